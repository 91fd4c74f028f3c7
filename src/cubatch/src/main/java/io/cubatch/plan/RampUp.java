package io.cubatch.plan;

/**
 * A global batch size that grows from {@code start} to the plan's global batch size in steps of
 * {@code increment} over the first {@code samples} consumed samples: Megatron's and NeMo's
 * {@code --rampup-batch-size START INCREMENT SAMPLES}, with the exact arithmetic of Megatron's
 * {@code RampupBatchsizeNumMicroBatchesCalculator}:
 * <pre>
 *   num_increments        = (global - start) / increment           (must divide exactly)
 *   samples_per_increment = samples / num_increments              (a double, as Python's true division)
 *   size(c) = global                                               when c &gt; samples
 *           = start + int(c / samples_per_increment) * increment   otherwise
 * </pre>
 * where {@code c} is the number of samples consumed before the step. Worked example: start 32, increment
 * 32, samples 1,000, global 128: 3 increments of 333.33 samples; steps start at c = 0, 32, ..., 320 with
 * 32 samples; at 352, 416, ..., 608 with 64; at 672, 768, 864, 960 with 96; from 1,056 on with 128.
 *
 * @param start     the first global batch size, at least 1
 * @param increment what each ramp stage adds, at least 1
 * @param samples   consumed samples over which the size ramps up, at least 1
 */
public record RampUp(long start, long increment, long samples) {

    /**
     * Checks the ramp against the final global batch size with Megatron's asserts, as messages.
     *
     * @throws PlanException naming the values and the fix
     */
    void validate(long global) {
        if (start < 1 || increment < 1 || samples < 1) {
            throw new PlanException("--rampup-batch-size " + start + " " + increment + " " + samples
                    + ": START, INCREMENT and SAMPLES must each be at least 1");
        }
        long diff = global - start;
        if (diff < 0) {
            throw new PlanException("ramp-up start batch size " + start + " is larger than the global batch size "
                    + global + ": the ramp only grows; start at " + global + " or below");
        }
        if (diff == 0) {
            throw new PlanException("ramp-up start batch size " + start + " equals the global batch size " + global
                    + ": there is nothing to ramp (Megatron divides by zero here); drop --rampup-batch-size");
        }
        if (diff % increment != 0) {
            long below = diff / increment * increment;
            throw new PlanException("global batch size interval " + diff + " (" + global + " - " + start
                    + ") is not divisible by the ramp-up increment " + increment + " (Megatron: \"expected global"
                    + " batch size interval to be divisible by global batch size increment\"): use a start of "
                    + (global - below) + (global - below - increment >= 1 ? " or " + (global - below - increment) : "")
                    + ", or an increment that divides " + diff);
        }
        if (diff / increment > MAX_INCREMENTS) {
            throw new PlanException("a ramp-up from " + start + " to " + global + " by " + increment + " has "
                    + diff / increment + " stages, more than the " + MAX_INCREMENTS + " a plan holds: use an increment"
                    + " of at least " + ((diff + MAX_INCREMENTS - 1) / MAX_INCREMENTS));
        }
    }

    /** The most ramp stages a plan accepts: its step schedule holds one segment per stage. */
    static final long MAX_INCREMENTS = 1L << 24;

    /** Number of ramp stages: {@code (global - start) / increment}. */
    long increments(long global) {
        return (global - start) / increment;
    }

    /** Megatron's {@code rampup_samples_per_increment}: a double. */
    double samplesPerIncrement(long global) {
        return (double) samples / (double) increments(global);
    }

    /** The ramp stage of consumed count {@code c} (c &lt;= samples): {@code int(c / samples_per_increment)}. */
    long stage(long c, long global) {
        return (long) ((double) c / samplesPerIncrement(global));
    }

    /**
     * The global batch size after {@code consumed} samples, by Megatron's formula.
     *
     * @param consumed samples consumed since the start of training (epoch 0)
     * @param global the final global batch size
     * @return the global batch size, from {@code start} in steps of {@code increment}, {@code global} once {@code
     *     consumed} exceeds the ramp-up samples
     */
    public long globalBatchSize(long consumed, long global) {
        if (consumed > samples) {
            return global;
        }
        return Math.min(global, start + stage(consumed, global) * increment);
    }
}
