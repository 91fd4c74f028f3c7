package io.cubatch.store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;

/**
 * A file a store maps, as it was when mapped: its path, its identity (device and inode) and its size. A
 * mapping read past the end of a file that has since shrunk raises SIGBUS, which the JDK turns into an
 * {@link InternalError} in Java code and which kills the JVM in native code; {@link #check()} finds the
 * shrink first. The check goes by the path: a file replaced by a rename is another file (the mapping keeps
 * the old one, unharmed) and is not reported; a shrink after the check is not seen.
 */
record MappedFile(Path path, Object fileKey, long bytes) {

    /** The file at {@code path} now, mapped over its first {@code bytes} bytes. */
    static MappedFile of(Path path, long bytes) throws IOException {
        return new MappedFile(path, Files.readAttributes(path, BasicFileAttributes.class).fileKey(), bytes);
    }

    /**
     * @throws UncheckedIOException wrapping a {@link DatasetFormatException} when the mapped file is now shorter
     *                              than its mapping
     */
    void check() {
        BasicFileAttributes now;
        try {
            now = Files.readAttributes(path, BasicFileAttributes.class);
        } catch (IOException gone) {
            return;   // removed or renamed: the mapping keeps the file it mapped
        }
        if (now.size() < bytes && Objects.equals(now.fileKey(), fileKey)) {
            DatasetFormatException e = new DatasetFormatException(path, "", "a file of " + now.size() + " bytes, "
                    + bytes + " when it was opened: it shrank (truncated or rewritten in place) while mapped,"
                    + " and reading past its new end would crash the JVM",
                    "the file unchanged while it is open: write a new file and rename it over the old one"
                            + " (the open mapping keeps the old file), then open it again");
            throw new UncheckedIOException(e.getMessage(), e);
        }
    }
}
