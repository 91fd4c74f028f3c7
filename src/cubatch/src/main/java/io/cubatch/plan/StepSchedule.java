package io.cubatch.plan;

import java.util.Arrays;

/**
 * Where each step of a plan starts and how many samples each rank takes at it, in rank-local positions
 * (a rank's n-th slot is local position n). Steps are grouped in segments of equal size, so the step of a
 * position and the position of a step are found by binary search over the segments: O(log segments).
 * A constant batch size is one segment; a ramp-up has at most one segment per ramp stage, plus the final
 * size, which extends without end.
 */
final class StepSchedule {
    /** First step of each segment. */
    private final long[] firstStep;
    /** Local position where each segment's first step starts. */
    private final long[] firstLocal;
    /** Samples per rank of each segment's steps. */
    private final long[] size;

    private StepSchedule(long[] firstStep, long[] firstLocal, long[] size) {
        this.firstStep = firstStep;
        this.firstLocal = firstLocal;
        this.size = size;
    }

    static StepSchedule constant(long batchSize) {
        return new StepSchedule(new long[] {0}, new long[] {0}, new long[] {batchSize});
    }

    /**
     * The steps of a ramp-up over {@code slots} global slots: step boundaries from consumed count
     * {@code base} (samples of training consumed where the plan starts) by Megatron's formula. Every size the
     * ramp takes from the start of training is checked against {@code micro x world} first, so a size that
     * does not divide fails now, naming its step, and not in a later epoch.
     */
    static StepSchedule ramp(RampUp ramp, long global, long base, int world, long micro, long slots) {
        // every step of the ramp from the start of training, checked without being kept: up to 2^24 stages of
        // 24 bytes each would otherwise be held (and copied as the arrays grow) for a plan that needs a few
        walk(ramp, global, 0, world, micro, Long.MAX_VALUE, false);
        return walk(ramp, global, base, world, micro, slots, true);
    }

    private static StepSchedule walk(RampUp ramp, long global, long base, int world, long micro, long slots,
                                     boolean keep) {
        long[] fs = new long[16];
        long[] fl = new long[16];
        long[] sz = new long[16];
        int n = 0;
        long q = 0;      // global slots from the plan's start
        long step = 0;
        long unit = micro * world;
        while (true) {
            long c = base + q;
            long g = ramp.globalBatchSize(c, global);
            boolean last = c > ramp.samples() || g == global || q >= slots;
            if (g % unit != 0 && q < slots) {
                long below = g / unit * unit;
                throw new PlanException("ramp-up step " + step + " (after " + c + " consumed samples) has global batch"
                        + " size " + g + ", which is not divisible by micro batch size " + micro + " times"
                        + " data-parallel size " + world + " (" + unit + "); Megatron: \"current global batch size ("
                        + g + ") is not divisible by micro-batch-size (" + micro + ") times data parallel size ("
                        + world + ")\": use a ramp-up start and increment that are multiples of " + unit
                        + (below > 0 ? " (e.g. " + below + " or " + (below + unit) + " here)" : " (e.g. " + unit + ")")
                        + ", or another micro batch or world size");
            }
            if (keep) {
                if (n == fs.length) {
                    fs = Arrays.copyOf(fs, 2 * n);
                    fl = Arrays.copyOf(fl, 2 * n);
                    sz = Arrays.copyOf(sz, 2 * n);
                }
                fs[n] = step;
                fl[n] = q / world;
                sz[n] = g / world;
                n++;
            }
            if (last) {
                break;
            }
            // the first consumed count of the next ramp stage (or past the ramp): the stage is monotone in c
            long stage = ramp.stage(c, global);
            long lo = c;
            long hi = ramp.samples() + 1;   // stage(hi) may equal stage(c), but hi > samples ends the ramp
            while (lo + 1 < hi) {
                long mid = lo + (hi - lo) / 2;
                if (ramp.stage(mid, global) > stage) {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            long steps = (hi - c + g - 1) / g;   // steps of size g starting before hi
            q += steps * g;
            step += steps;
        }
        return keep ? new StepSchedule(Arrays.copyOf(fs, n), Arrays.copyOf(fl, n), Arrays.copyOf(sz, n)) : null;
    }

    private int segmentOfStep(long step) {
        int i = Arrays.binarySearch(firstStep, step);
        return i >= 0 ? i : -i - 2;
    }

    private int segmentOfLocal(long local) {
        int i = Arrays.binarySearch(firstLocal, local);
        return i >= 0 ? i : -i - 2;
    }

    /** The local position where step {@code step} starts (saturating at Long.MAX_VALUE). */
    long start(long step) {
        int i = segmentOfStep(step);
        long k = step - firstStep[i];
        if (k != 0 && Math.multiplyHigh(k, size[i]) != 0 || k * size[i] > Long.MAX_VALUE - firstLocal[i]) {
            return Long.MAX_VALUE;
        }
        return firstLocal[i] + k * size[i];
    }

    /** Samples per rank at step {@code step}. */
    long size(long step) {
        return size[segmentOfStep(step)];
    }

    /** The step whose samples include local position {@code local}. */
    long stepAt(long local) {
        int i = segmentOfLocal(local);
        return firstStep[i] + (local - firstLocal[i]) / size[i];
    }

    /** Number of segments (ramp stages met, plus the final size). */
    int segments() {
        return size.length;
    }
}
