package io.cubatch.plan;

import java.util.OptionalInt;

/**
 * Data-parallel groups with tensor and pipeline parallelism, in Megatron's rank order: tensor-parallel
 * rank fastest, then pipeline, then data. Global rank {@code g} of a world of {@code W = TP x PP x DP}
 * ranks has tensor rank {@code g % TP}, pipeline rank {@code (g / TP) % PP} and data-parallel rank
 * {@code g / (TP x PP)}. The plan is over the {@code DP} data-parallel ranks; all {@code TP x PP} ranks of
 * one replica load the same batches. Example, W = 8, TP = 2, PP = 2: ranks 0-3 are replica 0, ranks 4-7
 * replica 1; ranks 0 and 1 are the two tensor halves of pipeline stage 0.
 *
 * @param size             data-parallel size: the plan's world size
 * @param rank             this process's data-parallel rank, when its global rank is known
 * @param tensorParallel   tensor-parallel size, at least 1
 * @param pipelineParallel pipeline-parallel size, at least 1
 * @param world            the global world this was derived from
 */
public record DataParallel(int size, OptionalInt rank, int tensorParallel, int pipelineParallel, WorldRank world) {

    /**
     * Derives the data-parallel group of a world.
     *
     * @param world the global world size and rank
     * @param tensorParallel the tensor-parallel size, at least 1
     * @param pipelineParallel the pipeline-parallel size, at least 1
     * @return the data-parallel size {@code W / (TP x PP)} and this process's data-parallel rank, when known
     * @throws PlanException when a size is below 1 or the world size is not a multiple of TP x PP
     */
    public static DataParallel of(WorldRank world, int tensorParallel, int pipelineParallel) {
        if (tensorParallel < 1 || pipelineParallel < 1) {
            throw new PlanException("--tensor-parallel and --pipeline-parallel must be at least 1, got "
                    + tensorParallel + " and " + pipelineParallel);
        }
        long model = (long) tensorParallel * pipelineParallel;
        int w = world.worldSize();
        if (w % model != 0) {
            long below = w / model * model;
            throw new PlanException("world size " + w + " (from " + world.source() + ") is not divisible by tensor-parallel "
                    + tensorParallel + " x pipeline-parallel " + pipelineParallel + " = " + model + ": run "
                    + (below > 0 ? below + " or " : "") + (below + model) + " ranks, or choose parallel sizes whose"
                    + " product divides " + w);
        }
        OptionalInt r = world.rank().isPresent() ? OptionalInt.of((int) (world.rank().getAsInt() / model)) : OptionalInt.empty();
        return new DataParallel((int) (w / model), r, tensorParallel, pipelineParallel, world);
    }

    /**
     * The global ranks of data-parallel rank {@code dp}'s replica, in order.
     *
     * @param dp the data-parallel rank, in {@code [0, size())}
     * @return the {@code TP x PP} global ranks {@code dp·TP·PP .. (dp+1)·TP·PP - 1}, a new array
     */
    public int[] globalRanks(int dp) {
        int model = tensorParallel * pipelineParallel;
        int[] out = new int[model];
        for (int i = 0; i < model; i++) {
            out[i] = dp * model + i;
        }
        return out;
    }

    /**
     * True when there is model parallelism (TP x PP above 1).
     *
     * @return whether {@code TP x PP > 1}
     */
    public boolean modelParallel() {
        return tensorParallel * pipelineParallel > 1;
    }
}
