package io.cubatch.cli;

import io.cubatch.collate.Padding;
import io.cubatch.plan.BatchPlan;
import io.cubatch.plan.DataParallel;
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

    @Option(names = "--micro-batch-size", paramLabel = "M", converter = Ranges.Positive.class,
            description = "Samples per micro-batch: each rank's step is --grad-accumulation micro-batches of M"
                    + " (global = M x accumulation x data-parallel size; give any two of the three).")
    Integer microBatchSize;

    @Option(names = "--grad-accumulation", paramLabel = "A", converter = Ranges.Positive.class,
            description = "Micro-batches per rank per step (gradient accumulation).")
    Integer gradAccumulation;

    @Option(names = "--rampup-batch-size", arity = "3", paramLabel = "N", converter = Ranges.PositiveLong.class,
            description = "START INCREMENT SAMPLES: grow the global batch size from START by INCREMENT over the first"
                    + " SAMPLES consumed samples, with Megatron's formula; --global-batch-size is the final size.")
    long[] rampUp;

    @Option(names = "--tensor-parallel", paramLabel = "TP", defaultValue = "1", converter = Ranges.Positive.class,
            description = "Tensor-parallel size: TP x PP ranks form one model replica and load the same batches"
                    + " (Megatron's order: tensor fastest, then pipeline, then data; default: ${DEFAULT-VALUE}).")
    int tensorParallel;

    @Option(names = "--pipeline-parallel", paramLabel = "PP", defaultValue = "1", converter = Ranges.Positive.class,
            description = "Pipeline-parallel size (default: ${DEFAULT-VALUE}); see --tensor-parallel.")
    int pipelineParallel;

    @Option(names = "--max-tokens", paramLabel = "T", converter = Ranges.PositiveLong.class,
            description = "Batches of at most T padded tokens (rows x padded length) instead of a batch size; needs"
                    + " the dataset's lengths (plan: --input).")
    Long maxTokens;

    @Option(names = "--sort-window", paramLabel = "N", defaultValue = "0", converter = Ranges.NonNegative.class,
            description = "With --max-tokens: sort each window of N samples of the global order by length before"
                    + " cutting batches (length bucketing; default: ${DEFAULT-VALUE}, off).")
    int sortWindow;

    /** True when a batch size was given, per rank or global (or a token budget, or micro-batches). */
    boolean batchSizeGiven() {
        return batchSize != null || globalBatchSize != null || maxTokens != null || microBatchSize != null;
    }

    /** The data-parallel group of {@code world} with --tensor-parallel and --pipeline-parallel. */
    DataParallel dataParallel(WorldRank world) {
        return DataParallel.of(world, tensorParallel, pipelineParallel);
    }

    /**
     * The plan's world: the data-parallel ranks, their count and this process's data-parallel rank, with the
     * source saying how they were derived.
     */
    static WorldRank planWorld(DataParallel dp) {
        if (!dp.modelParallel()) {
            return dp.world();
        }
        return new WorldRank(dp.size(), dp.rank(), dp.world().localRank(), dp.world().source() + ", data-parallel over"
                + " tensor-parallel " + dp.tensorParallel() + " x pipeline-parallel " + dp.pipelineParallel());
    }

    /** Adds the token budget, when --max-tokens was given: lengths from the store, rows padded as {@code padding}. */
    void applyTokens(BatchPlan.Builder b, io.cubatch.store.SampleStore store, Padding padding) {
        if (maxTokens == null) {
            if (sortWindow > 0) {
                throw new PlanException("--sort-window " + sortWindow + " sorts the windows of a token budget:"
                        + " add --max-tokens T, or use run --bucket N for fixed-size batches");
            }
            return;
        }
        java.util.OptionalLong maxlen = padding.maxlen();
        b.maxTokens(maxTokens, i -> maxlen.isPresent() ? Math.min(store.length(i), maxlen.getAsLong()) : store.length(i),
                padding::outputLength).sortWindow(sortWindow);
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
        return builder(samples, dataParallel(world));
    }

    /** {@link #builder(long, WorldRank)} over the data-parallel ranks of a world. */
    BatchPlan.Builder builder(long samples, DataParallel dp) {
        if (shuffle && seed == null) {
            throw new PlanException("--shuffle needs --seed S: the order must be reproducible, so there is no"
                    + " default seed (any 64-bit integer; keep it fixed across epochs and ranks)");
        }
        if (!shuffle && seed != null) {
            throw new PlanException("--seed " + seed + " without --shuffle would do nothing: add --shuffle, or drop --seed");
        }
        BatchPlan.Builder b = BatchPlan.builder().samples(samples).worldSize(dp.size())
                .rankRemainder(remainder).lastBatch(lastBatch);
        if (dp.rank().isPresent()) {
            b.dataParallel(dp.size(), dp.rank().getAsInt());
        }
        if (microBatchSize != null) {
            b.microBatchSize(microBatchSize);
        }
        if (gradAccumulation != null) {
            b.gradientAccumulation(gradAccumulation);
        }
        if (rampUp != null) {
            b.rampUp(rampUp[0], rampUp[1], rampUp[2]);
        }
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
