package io.cubatch.cli;

import io.cubatch.plan.BatchPlan;
import io.cubatch.plan.LastBatch;
import io.cubatch.plan.PlanException;
import io.cubatch.plan.RankRemainder;
import io.cubatch.plan.WorldRank;
import java.util.OptionalInt;
import picocli.CommandLine.Option;

/** The batch-plan options that {@code plan} and {@code run} share (a picocli mixin), and how they become a plan. */
final class PlanOptions {
    @Option(names = "--batch-size", paramLabel = "B", converter = Ranges.Positive.class, description = "Samples per rank per step (local batch size).")
    Integer batchSize;

    @Option(names = "--global-batch-size", paramLabel = "G", converter = Ranges.PositiveLong.class,
            description = "Samples per step over all ranks; must be a multiple of the world size.")
    Long globalBatchSize;

    @Option(names = "--world-size", paramLabel = "W", converter = Ranges.Positive.class,
            description = "Number of ranks. Default: the launcher's (torchrun, Open MPI, Slurm variables), else 1.")
    Integer worldSize;

    @Option(names = "--rank", paramLabel = "R", converter = Ranges.NonNegative.class,
            description = "This process's rank. Default: the launcher's; without one, plan shows every rank and run loads rank 0.")
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

    /** True when a batch size was given, per rank or global. */
    boolean batchSizeGiven() {
        return batchSize != null || globalBatchSize != null;
    }

    /** World size and rank from the options and the launcher's environment. */
    WorldRank world() {
        return WorldRank.resolve(rank == null ? OptionalInt.empty() : OptionalInt.of(rank),
                worldSize == null ? OptionalInt.empty() : OptionalInt.of(worldSize), PlanCommand.environment);
    }

    /**
     * A builder with every plan option applied; the caller adds what is its own (epoch, resume point) and
     * builds, which validates the sizes and policies.
     *
     * @throws PlanException when --shuffle and --seed do not come together
     */
    BatchPlan.Builder builder(long samples, WorldRank world) {
        if (shuffle && seed == null) {
            throw new PlanException("--shuffle needs --seed S: the order must be reproducible, so there is no"
                    + " default seed (any 64-bit integer; keep it fixed across epochs and ranks)");
        }
        if (!shuffle && seed != null) {
            throw new PlanException("--seed " + seed + " without --shuffle would do nothing: add --shuffle, or drop --seed");
        }
        BatchPlan.Builder b = BatchPlan.builder().samples(samples).worldSize(world.worldSize())
                .rankRemainder(remainder).lastBatch(lastBatch);
        if (batchSize != null) {
            b.batchSize(batchSize);
        }
        if (globalBatchSize != null) {
            b.globalBatchSize(globalBatchSize);
        }
        if (shuffle) {
            b.shuffle(seed);
        }
        return b;
    }
}
