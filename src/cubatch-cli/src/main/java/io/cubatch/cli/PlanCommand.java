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

    @Option(names = "--samples", required = true, paramLabel = "N", converter = Ranges.PositiveLong.class, description = "Samples in the epoch.")
    long samples;

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
        BatchPlan.Builder b = options.builder(samples, world).epoch(epoch).resumeAt(resumeAt).evaluation(evaluation);
        BatchPlan plan = b.build();
        PrintWriter out = spec.commandLine().getOut();
        if (format == Format.json) {
            PlanJson.write(plan, world, out);
        } else {
            PlanText.write(plan, world, out);
        }
        out.flush();
        return Main.EXIT_OK;
    }
}
