package io.cubatch.store;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A dataset file is malformed or unsupported. The message names the file, where in it (byte offset or
 * line), what was found and what was expected; the CLI prints it and exits with status 2.
 */
public class DatasetFormatException extends IOException {
    /** The malformed file. */
    private final Path file;
    /** Where in the file: "byte N", "line N", or "". */
    private final String where;

    /**
     * A format error; the message reads "FILE at WHERE: FOUND; expected EXPECTED".
     *
     * @param file     the file
     * @param where    "byte 8", "line 3", ... or "" when the whole file is concerned
     * @param found    what the file holds
     * @param expected what a valid file would hold, or how to fix it
     */
    public DatasetFormatException(Path file, String where, String found, String expected) {
        super(file + (where.isEmpty() ? "" : " at " + where) + ": " + found + "; expected " + expected);
        this.file = file;
        this.where = where;
    }

    /**
     * The malformed file.
     *
     * @return its path, as given to the reader
     */
    public Path file() {
        return file;
    }

    /**
     * "byte N", "line N", or "" for the whole file.
     *
     * @return where in the file the problem is
     */
    public String where() {
        return where;
    }
}
