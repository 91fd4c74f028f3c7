package io.cubatch.plan;

import java.util.Arrays;

/**
 * The sample indices one rank processes at one step.
 *
 * <p>Entries that are not a sample's first appearance in the epoch sit at the end of the batch:
 * first {@code repeated} entries added by {@link RankRemainder#PAD} (samples repeated from the head of
 * the epoch so ranks stay even), then {@code filled} entries added by {@link LastBatch#FILL}.
 *
 * @param rank     the rank, in [0, world size)
 * @param step     the step, in [0, steps(rank)), counted from the start of the plan (after any resume)
 * @param samples  the sample indices, in batch order; the array is owned by this record's creator, do not modify
 * @param repeated how many entries before the fill entries are rank-padding repeats
 * @param filled   how many entries at the end are last-batch fill
 */
public record PlannedBatch(int rank, long step, long[] samples, int repeated, int filled) {

    /**
     * Number of entries in the batch.
     *
     * @return the batch size, repeats and fill included
     */
    public int size() {
        return samples.length;
    }

    /**
     * The sample index at position {@code i} of the batch.
     *
     * @param i the position, in {@code [0, size())}
     * @return the sample index
     * @throws ArrayIndexOutOfBoundsException when {@code i} is outside the batch
     */
    public long sample(int i) {
        return samples[i];
    }

    /**
     * True when entry {@code i} was added by {@link LastBatch#FILL} to complete the batch.
     *
     * @param i the position, in {@code [0, size())}
     * @return whether the entry is last-batch fill
     */
    public boolean isFill(int i) {
        return i >= samples.length - filled;
    }

    /**
     * True when entry {@code i} repeats a sample already seen this epoch (rank padding or fill).
     *
     * @param i the position, in {@code [0, size())}
     * @return whether the entry is a repeat
     */
    public boolean isRepeat(int i) {
        return i >= samples.length - filled - repeated;
    }

    /**
     * Number of entries that are a sample's first appearance in the epoch.
     *
     * @return {@code size() - repeated() - filled()}
     */
    public int firstSeen() {
        return samples.length - filled - repeated;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PlannedBatch b && rank == b.rank && step == b.step && repeated == b.repeated
                && filled == b.filled && Arrays.equals(samples, b.samples);
    }

    @Override
    public int hashCode() {
        return (Arrays.hashCode(samples) * 31 + rank) * 31 + Long.hashCode(step);
    }

    @Override
    public String toString() {
        return "PlannedBatch[rank=" + rank + ", step=" + step + ", samples=" + Arrays.toString(samples)
                + ", repeated=" + repeated + ", filled=" + filled + "]";
    }
}
