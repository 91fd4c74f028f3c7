package io.cubatch.cli;

import io.cubatch.plan.BatchPlan;
import io.cubatch.plan.LastBatch;
import io.cubatch.plan.PlanException;
import io.cubatch.plan.RankRemainder;
import io.cubatch.plan.WorldRank;
import java.io.PrintWriter;
import java.util.Map;
import java.util.OptionalInt;
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

    @Option(names = "--samples", required = true, paramLabel = "N", description = "Samples in the epoch.")
    long samples;

    @Option(names = "--batch-size", paramLabel = "B", description = "Samples per rank per step (local batch size).")
    Integer batchSize;

    @Option(names = "--global-batch-size", paramLabel = "G",
            description = "Samples per step over all ranks; must be a multiple of the world size.")
    Long globalBatchSize;

    @Option(names = "--world-size", paramLabel = "W",
            description = "Number of ranks. Default: the launcher's (torchrun, Open MPI, Slurm variables), else 1.")
    Integer worldSize;

    @Option(names = "--rank", paramLabel = "R",
            description = "Show only this rank. Default: the launcher's rank, else all ranks.")
    Integer rank;

    @Option(names = "--remainder", paramLabel = "POLICY",
            description = "Samples left over across ranks: ${COMPLETION-CANDIDATES}. Required when there are any.")
    RankRemainder remainder;

    @Option(names = "--last-batch", paramLabel = "POLICY",
            description = "A rank's incomplete last batch: ${COMPLETION-CANDIDATES}. Required when there is one.")
    LastBatch lastBatch;

    @Option(names = "--shuffle", description = "Shuffle the global order (needs --seed).")
    boolean shuffle;

    @Option(names = "--seed", paramLabel = "S", description = "Shuffle seed (64-bit integer).")
    Long seed;

    @Option(names = "--epoch", paramLabel = "E", defaultValue = "0", description = "Epoch (default: ${DEFAULT-VALUE}).")
    long epoch;

    @Option(names = "--resume-at", paramLabel = "K", defaultValue = "0",
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
        if (shuffle && seed == null) {
            throw new PlanException("--shuffle needs --seed S: the order must be reproducible, so there is no"
                    + " default seed (any 64-bit integer; keep it fixed across epochs and ranks)");
        }
        if (!shuffle && seed != null) {
            throw new PlanException("--seed " + seed + " without --shuffle would do nothing: add --shuffle, or drop --seed");
        }
        WorldRank world = WorldRank.resolve(rank == null ? OptionalInt.empty() : OptionalInt.of(rank),
                worldSize == null ? OptionalInt.empty() : OptionalInt.of(worldSize), environment);
        BatchPlan.Builder b = BatchPlan.builder()
                .samples(samples)
                .worldSize(world.worldSize())
                .epoch(epoch)
                .resumeAt(resumeAt)
                .evaluation(evaluation)
                .rankRemainder(remainder)
                .lastBatch(lastBatch);
        if (batchSize != null) {
            b.batchSize(batchSize);
        }
        if (globalBatchSize != null) {
            b.globalBatchSize(globalBatchSize);
        }
        if (shuffle) {
            b.shuffle(seed);
        }
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
