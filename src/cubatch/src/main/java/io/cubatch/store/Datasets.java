package io.cubatch.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Opens a dataset by its name: {@code .npy}, {@code .jsonl}/{@code .json}, a Megatron prefix (or its .idx/.bin),
 * or an Arrow IPC file or stream ({@code .arrow}, {@code .arrows}, {@code .feather}, {@code .ipc}, or any file
 * that starts with Arrow's magic: Hugging Face {@code datasets} caches are {@code .arrow} streams).
 */
public final class Datasets {
    private Datasets() {
    }

    /** The formats cubatch reads. */
    public enum Format {
        /** A NumPy {@code .npy} array, or a ragged {@code .npy} pair ({@link NpyReader}). */
        NPY,
        /** JSON Lines, one sample per line ({@link JsonlReader}; needs jackson-core). */
        JSONL,
        /** A Megatron-LM indexed dataset, {@code PREFIX.idx} + {@code PREFIX.bin} ({@link MegatronReader}). */
        MEGATRON,
        /** An Arrow IPC file or stream, such as a Hugging Face {@code datasets} cache ({@link ArrowReader}). */
        ARROW
    }

    /**
     * The format of {@code path}, from its name and, for Megatron, the presence of both files.
     *
     * @param path the dataset's path, or a Megatron prefix
     * @return the format
     * @throws java.nio.file.NoSuchFileException when {@code path} has no known extension and nothing is there
     * @throws DatasetFormatException when it is a directory or has no known extension or magic
     * @throws IOException when reading the first bytes for Arrow's magic fails
     */
    public static Format formatOf(Path path) throws IOException {
        String name = path.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".npy")) {
            return Format.NPY;
        }
        if (name.endsWith(".jsonl") || name.endsWith(".json")) {
            return Format.JSONL;
        }
        if (name.endsWith(".idx") || name.endsWith(".bin") || MegatronReader.isDataset(path)) {
            return Format.MEGATRON;
        }
        if (name.endsWith(".arrow") || name.endsWith(".arrows") || name.endsWith(".feather") || name.endsWith(".ipc")
                || hasArrowMagic(path)) {
            return Format.ARROW;
        }
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString(), null,
                    "no such file, and no Megatron pair " + path + ".idx + " + path + ".bin");
        }
        if (Files.isDirectory(path)) {
            throw notAFile(path, "a directory");
        }
        throw new DatasetFormatException(path, "", "a file name without a known extension",
                ".npy, .jsonl (or .json), .arrow (Arrow IPC file or stream), or a Megatron prefix with .idx and .bin"
                        + " beside it");
    }

    /**
     * Opens {@code path}; the returned store owns its memory and must be closed.
     *
     * @param path the dataset's path, or a Megatron prefix
     * @return the store, owning its mapping or allocation
     * @throws DatasetFormatException also when a file of the dataset is not a regular file (a directory, a device,
     *                                a pipe): datasets are mapped or read whole, which only a regular file allows
     * @throws IOException when the file cannot be read, or is not valid in its format ({@link DatasetFormatException})
     */
    public static SampleStore open(Path path) throws IOException {
        return open(path, ArrowReader.Options.DEFAULT);
    }

    /**
     * Opens {@code path} as {@link #open(Path)}, reading an Arrow dataset's column as {@code arrow} says (the
     * other formats have one array and ignore it).
     *
     * @param path the dataset's path, or a Megatron prefix
     * @param arrow which column of an Arrow dataset to read, and how
     * @return the store, owning its mapping or allocation
     * @throws IOException when the file cannot be read, or is not valid in its format ({@link DatasetFormatException})
     */
    public static SampleStore open(Path path, ArrowReader.Options arrow) throws IOException {
        Format format = formatOf(path);
        if (format == Format.MEGATRON) {
            Path prefix = MegatronReader.prefixOf(path);
            requireRegularFile(prefix.resolveSibling(prefix.getFileName() + ".idx"));
            requireRegularFile(prefix.resolveSibling(prefix.getFileName() + ".bin"));
        } else {
            requireRegularFile(path);
        }
        return switch (format) {
            case NPY -> NpyReader.open(path);
            case JSONL -> {
                requireJsonParser(path);
                yield JsonlReader.open(path);
            }
            case MEGATRON -> MegatronReader.open(path);
            case ARROW -> ArrowReader.open(path, arrow);
        };
    }

    /** True for a regular file that starts with an Arrow IPC file or stream magic. */
    private static boolean hasArrowMagic(Path path) {
        if (!Files.isRegularFile(path)) {
            return false;
        }
        try (java.io.InputStream in = Files.newInputStream(path)) {
            byte[] head = in.readNBytes(8);
            return ArrowReader.hasMagic(java.lang.foreign.MemorySegment.ofArray(head));
        } catch (IOException e) {
            return false;
        }
    }

    /** The jackson-core class that the JSONL reader parses with; an optional dependency of this library. */
    static final String JSON_PARSER_CLASS = "com.fasterxml.jackson.core.JsonFactory";

    /**
     * JSONL is parsed by jackson-core, an optional dependency (the library itself requires nothing outside the
     * JDK): without it, a clear message instead of a {@code NoClassDefFoundError}.
     */
    private static void requireJsonParser(Path path) {
        try {
            Class.forName(JSON_PARSER_CLASS, false, Datasets.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            throw new UnsupportedOperationException("reading " + path + " (JSONL) needs jackson-core, an optional"
                    + " dependency of cubatch: add com.fasterxml.jackson.core:jackson-core (2.x) to your project (on the"
                    + " module path also --add-modules com.fasterxml.jackson.core), or convert the file to .npy");
        }
    }

    /** Refuses what exists but is not a regular file (after symbolic links); absence is left to the reader. */
    private static void requireRegularFile(Path p) throws DatasetFormatException {
        if (Files.isDirectory(p)) {
            throw notAFile(p, "a directory");
        }
        if (Files.exists(p) && !Files.isRegularFile(p)) {
            throw notAFile(p, "a device, pipe or socket, not a file");
        }
    }

    private static DatasetFormatException notAFile(Path p, String found) {
        return new DatasetFormatException(p, "", found, "a regular file: name the dataset file itself (.npy,"
                + " .jsonl, or a Megatron prefix whose .idx and .bin are files)");
    }
}
