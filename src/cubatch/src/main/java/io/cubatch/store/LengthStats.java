package io.cubatch.store;

/**
 * Sequence-length statistics of a store, exact and in constant memory: the median is found with four
 * passes of a 2^16-bucket histogram over the 64-bit lengths (16 bits per pass), so it costs O(N) time
 * and no copy of the lengths, even for billions of samples.
 *
 * @param samples     number of samples
 * @param min         shortest sample, in timesteps (0 when there are no samples)
 * @param median      the lower median: the length at position {@code (samples - 1) / 2} of the sorted lengths
 * @param max         longest sample
 * @param totalTokens timesteps over all samples
 */
public record LengthStats(long samples, long min, long median, long max, long totalTokens) {

    /**
     * Computes the statistics of a store's lengths in O(N) time, without copying them.
     *
     * @param store the store, open; not closed
     * @return the statistics
     * @throws IllegalStateException when the store is closed
     */
    public static LengthStats of(SampleStore store) {
        long n = store.size();
        if (n == 0) {
            return new LengthStats(0, 0, 0, 0, 0);
        }
        if (!store.isRagged()) {
            long l = store.length(0);
            return new LengthStats(n, l, l, l, store.totalTimesteps());
        }
        long min = Long.MAX_VALUE;
        long max = 0;
        for (long i = 0; i < n; i++) {
            long l = store.length(i);
            min = Math.min(min, l);
            max = Math.max(max, l);
        }
        return new LengthStats(n, min, select(store, (n - 1) / 2), max, store.totalTimesteps());
    }

    /** The k-th smallest length (0-based), by radix refinement from the high 16 bits down. */
    static long select(SampleStore store, long k) {
        long n = store.size();
        long prefix = 0;
        long rank = k;
        long[] counts = new long[1 << 16];
        for (int shift = 48; shift >= 0; shift -= 16) {
            java.util.Arrays.fill(counts, 0);
            long highMask = shift == 48 ? 0 : -1L << (shift + 16);
            for (long i = 0; i < n; i++) {
                long l = store.length(i);
                if ((l & highMask) == prefix) {
                    counts[(int) ((l >>> shift) & 0xFFFF)]++;
                }
            }
            int bucket = 0;
            while (rank >= counts[bucket]) {
                rank -= counts[bucket];
                bucket++;
            }
            prefix |= (long) bucket << shift;
        }
        return prefix;
    }
}
