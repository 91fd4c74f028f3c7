package io.cubatch.cli;

import io.cubatch.store.Datasets;
import io.cubatch.store.DatasetWriter;
import io.cubatch.store.MegatronReader;
import io.cubatch.store.SampleStore;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code cubatch convert}: any dataset cubatch reads, written as .npy (ragged: a pair) or a Megatron pair. */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = {"Writes a dataset (any format cubatch reads) as .npy or as a Megatron pair, so other tools can read it.",
                "A fixed-shape dataset becomes one .npy [N, L(, F...)]; a ragged one the pair NAME.npy (values) +",
                "NAME.offsets.npy (int64 [N + 1] offsets), which cubatch reads back as one dataset and NumPy splits with",
                "np.split(values, offsets[1:-1]). Megatron: PREFIX.idx + PREFIX.bin, one document per sequence unless the",
                "input has documents. Files appear whole or not at all. Prints one line (or, with --format json, one object)",
                "naming the files written."},
        footer = {"", "Exit codes: 0 ok, 2 invalid arguments or dataset (the message names the value and the fix), 1 internal error."})
final class ConvertCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--input", required = true, paramLabel = "PATH", description = "The dataset: " + InputOptions.FORMATS + ".")
    Path input;

    @CommandLine.Mixin
    InputOptions read;

    @Option(names = "--output", required = true, paramLabel = "PATH",
            description = "Where to write: NAME.npy, or a Megatron prefix (or PREFIX.idx / PREFIX.bin).")
    Path output;

    @Option(names = "--to", paramLabel = "FORMAT",
            description = "npy or megatron. Default: from --output (.npy gives npy, anything else megatron).")
    String to;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "text",
            description = "Output: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    PlanCommand.Format format;

    @Override
    public Integer call() throws Exception {
        if (output.toString().isEmpty()) {
            throw new IllegalArgumentException("--output is empty: name the file to write (NAME.npy, or a Megatron"
                    + " prefix NAME for NAME.idx + NAME.bin)");
        }
        Path parent = output.toAbsolutePath().getParent();
        if (parent != null && !java.nio.file.Files.isDirectory(parent)) {
            throw new IllegalArgumentException("--output " + output + ": the directory " + parent + " does not exist:"
                    + " create it, or write the dataset elsewhere");
        }
        DatasetWriter.Target target = target();
        if (target == DatasetWriter.Target.NPY && !output.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".npy")) {
            throw new IllegalArgumentException("--output " + output + " with --to npy: name a .npy file (e.g. "
                    + output.getFileName() + ".npy)");
        }
        Datasets.Format from = Datasets.formatOf(input);
        try (SampleStore s = read.open(input)) {
            checkNotInput(target, from);
            List<Path> written = DatasetWriter.write(s, output, target);
            PrintWriter out = spec.commandLine().getOut();
            if (format == PlanCommand.Format.json) {
                StringBuilder j = new StringBuilder("{\"input\": ").append(quote(input.toString()))
                        .append(", \"from\": \"").append(from.name().toLowerCase(Locale.ROOT))
                        .append("\", \"to\": \"").append(target.name().toLowerCase(Locale.ROOT))
                        .append("\", \"samples\": ").append(s.size())
                        .append(", \"total_tokens\": ").append(s.totalTimesteps())
                        .append(", \"dtype\": \"").append(s.dtype().cliName()).append("\", \"files\": [");
                for (int i = 0; i < written.size(); i++) {
                    j.append(i == 0 ? "" : ", ").append(quote(written.get(i).toString()));
                }
                out.println(j.append("]}"));
            } else {
                out.printf("%s (%s, %d samples, %d tokens, %s) -> %s%n", input, from.name().toLowerCase(Locale.ROOT),
                        s.size(), s.totalTimesteps(), s.dtype().cliName(),
                        String.join(" + ", written.stream().map(Path::toString).toList()));
            }
            out.flush();
        }
        return Main.EXIT_OK;
    }

    private DatasetWriter.Target target() {
        if (to == null) {
            return DatasetWriter.targetOf(output);
        }
        return switch (to.toLowerCase(Locale.ROOT)) {
            case "npy" -> DatasetWriter.Target.NPY;
            case "megatron" -> DatasetWriter.Target.MEGATRON;
            default -> throw new IllegalArgumentException("--to " + to + " is not a format cubatch writes: use npy or"
                    + " megatron");
        };
    }

    /** An output that is one of the input's files would be replaced while it is read. */
    private void checkNotInput(DatasetWriter.Target target, Datasets.Format from) throws java.io.IOException {
        List<Path> inputs = new ArrayList<>();
        if (from == Datasets.Format.MEGATRON) {
            Path prefix = MegatronReader.prefixOf(input);
            inputs.add(prefix.resolveSibling(prefix.getFileName() + ".idx"));
            inputs.add(prefix.resolveSibling(prefix.getFileName() + ".bin"));
        } else {
            inputs.add(input);
            inputs.add(DatasetWriter.offsetsOf(input));
        }
        List<Path> outputs = new ArrayList<>();
        if (target == DatasetWriter.Target.NPY) {
            outputs.add(output);
            outputs.add(DatasetWriter.offsetsOf(output));
        } else {
            Path prefix = MegatronReader.prefixOf(output);
            outputs.add(prefix.resolveSibling(prefix.getFileName() + ".idx"));
            outputs.add(prefix.resolveSibling(prefix.getFileName() + ".bin"));
        }
        for (Path o : outputs) {
            for (Path in : inputs) {
                if (Files.exists(o) && Files.exists(in) && Files.isSameFile(o, in)) {
                    throw new IllegalArgumentException("--output " + output + ": " + o + " is the input dataset's file "
                            + in + ": convert would replace what it reads; name another path");
                }
            }
        }
    }

    private static String quote(String s) {
        return "\"" + new String(com.fasterxml.jackson.core.io.JsonStringEncoder.getInstance().quoteAsString(s)) + "\"";
    }
}
