package io.cubatch.cli;

import io.cubatch.plan.BatchPlan;
import io.cubatch.plan.WorldRank;
import java.io.PrintWriter;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code cubatch plan}: which rank gets which samples at which step, and what will go wrong. */
@Command(name = "plan", mixinStandardHelpOptions = true,
        description = {"Explain a batch plan: per rank, the samples of every step, repeats, drops and warnings.",
                "Unshuffled, the order is PyTorch's DistributedSampler + DataLoader."},
        footer = {"", "Exit codes: 0 ok, 2 invalid arguments (the message names the value and the fix), 1 internal error."})
final class PlanCommand implements Callable<Integer> {
    /** The environment read for launcher variables; tests replace it. */
    static Map<String, String> environment = System.getenv();

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--samples", paramLabel = "N", converter = Ranges.PositiveLong.class,
            description = "Samples in the epoch (or --input).")
    Long samples;

    @Option(names = "--input", paramLabel = "PATH",
            description = "Dataset: " + InputOptions.FORMATS + ": its sample count, and the lengths --max-tokens needs.")
    java.nio.file.Path input;

    @Option(names = "--maxlen", paramLabel = "L", converter = Ranges.Maxlen.class,
            description = "With --max-tokens: rows are truncated to L (and padded to L), as run --maxlen does.")
    Long maxlen;

    @Option(names = "--pad-to-multiple-of", paramLabel = "M", converter = Ranges.Multiple.class,
            description = "With --max-tokens: row lengths round up to a multiple of M, as run does.")
    Integer multiple;

    @CommandLine.Mixin
    InputOptions read;

    @CommandLine.Mixin
    PlanOptions options;

    @Option(names = "--epoch", paramLabel = "E", defaultValue = "0", converter = Ranges.NonNegativeLong.class,
            description = "Epoch (default: ${DEFAULT-VALUE}).")
    long epoch;

    @Option(names = "--resume-at", paramLabel = "K", defaultValue = "0", converter = Ranges.NonNegativeLong.class,
            description = "Samples of the epoch already consumed (a checkpoint's count; default: ${DEFAULT-VALUE}).")
    long resumeAt;

    @Option(names = "--eval", description = "An evaluation plan: warn when samples are repeated.")
    boolean evaluation;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "text",
            description = "Output: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    Format format;

    enum Format { text, json }

    @Override
    public Integer call() throws Exception {
        WorldRank world = options.world();
        io.cubatch.plan.DataParallel dp = options.dataParallel(world);
        if (samples == null && input == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--samples is required: an integer in [1,"
                    + " 9223372036854775807] (or --input PATH, which gives the dataset's count)");
        }
        if (samples != null && input != null) {
            throw new IllegalArgumentException("--samples " + samples + " and --input both given: the dataset says how"
                    + " many samples it has; drop --samples");
        }
        if (options.maxTokens != null && input == null) {
            throw new IllegalArgumentException("--max-tokens " + options.maxTokens + " cuts batches by the samples'"
                    + " lengths: pass the dataset with --input PATH instead of --samples");
        }
        try (io.cubatch.store.SampleStore store = input == null ? null : read.open(input)) {
            long n = store == null ? samples : store.size();
            BatchPlan.Builder b = options.builder(n, dp).epoch(epoch).resumeAt(resumeAt).evaluation(evaluation);
            if (store != null) {
                io.cubatch.collate.Padding.Builder pb = io.cubatch.collate.Padding.builder()
                        .side(io.cubatch.collate.PadSide.POST).dtype(io.cubatch.store.DType.INT32);
                if (maxlen != null) {
                    pb.maxlen(maxlen).truncation(io.cubatch.collate.PadSide.POST);
                }
                if (multiple != null) {
                    pb.padToMultipleOf(multiple);
                }
                options.applyTokens(b, store, pb.build());
            } else {
                options.applyTokens(b, null, null);
            }
            BatchPlan plan = b.build();
            PrintWriter out = spec.commandLine().getOut();
            WorldRank planWorld = PlanOptions.planWorld(dp);
            if (format == Format.json) {
                PlanJson.write(plan, planWorld, dp, store, out);
            } else {
                PlanText.write(plan, planWorld, out);
            }
            out.flush();
        }
        return Main.EXIT_OK;
    }
}
