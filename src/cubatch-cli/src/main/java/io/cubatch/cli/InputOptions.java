package io.cubatch.cli;

import io.cubatch.store.ArrowReader;
import io.cubatch.store.Datasets;
import io.cubatch.store.SampleStore;
import java.io.IOException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * How a dataset file is read, for every command that takes {@code --input} (a picocli mixin): which Arrow
 * column, and what a null row means. The other formats hold one array and ignore these.
 */
final class InputOptions {
    static final String FORMATS = ".npy (or a ragged pair NAME.npy + NAME.offsets.npy), .jsonl, a Megatron prefix"
            + " (or its .idx/.bin), or Arrow IPC (.arrow file or stream, e.g. a Hugging Face datasets cache)";

    @Option(names = "--column", paramLabel = "NAME",
            description = "Arrow input: the list column to read. Default: " + ArrowReader.DEFAULT_COLUMN
                    + " when present, else the only list-of-numbers column.")
    String column;

    @Option(names = "--skip-null-rows",
            description = "Arrow input: leave out rows whose list is null (default: a null row is an error naming it).")
    boolean skipNullRows;

    SampleStore open(Path input) throws IOException {
        return Datasets.open(input, new ArrowReader.Options(column, skipNullRows));
    }
}
