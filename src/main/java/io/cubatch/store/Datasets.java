package io.cubatch.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Locale;

/** Opens a dataset by its name: {@code .npy}, {@code .jsonl}/{@code .json}, or a Megatron prefix (or its .idx/.bin). */
public final class Datasets {
    private Datasets() {
    }

    /** The formats cubatch reads. */
    public enum Format { NPY, JSONL, MEGATRON }

    /** The format of {@code path}, from its name and, for Megatron, the presence of both files. */
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
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString(), null,
                    "no such file, and no Megatron pair " + path + ".idx + " + path + ".bin");
        }
        throw new DatasetFormatException(path, "", "a file name without a known extension",
                ".npy, .jsonl (or .json), or a Megatron prefix with .idx and .bin beside it");
    }

    /** Opens {@code path}; the returned store owns its memory and must be closed. */
    public static SampleStore open(Path path) throws IOException {
        return switch (formatOf(path)) {
            case NPY -> NpyReader.open(path);
            case JSONL -> JsonlReader.open(path);
            case MEGATRON -> MegatronReader.open(path);
        };
    }
}
