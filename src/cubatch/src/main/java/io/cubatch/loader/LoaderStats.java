package io.cubatch.loader;

/**
 * What a loader did, since it was built.
 *
 * @param samples      sample entries handed out (repeats and fill included)
 * @param tokens       real tokens handed out
 * @param batches      batches handed out
 * @param paddedTokens token slots written (rows x length), real and padding
 * @param bytesMoved   bytes written into batch tensors (data, lengths, mask, positions, cu_seqlens)
 * @param stagingBytes bytes held by the prefetch ring
 * @param waitNanos    time the consumer spent waiting for a batch that was not ready
 * @param elapsedNanos time from the first request to the last batch handed out
 * @param backend      the collation backend
 * @param device       the GPU of device mode, -1 for host batches
 * @param h2dBytes     bytes sent host to device: offsets and real tokens per batch (compact), or indices only
 *                     (resident); 0 for host batches
 * @param d2hBytes     batch bytes copied device to host: 0, device batches stay on the device
 * @param statusBytes  the kernels' error reports read back, 16 bytes per device batch (not batch data)
 * @param deviceMillisPerBatch device time per batch (copy in, kernel, status out), measured with CUDA events
 *                     on each slot's stream; NaN for host batches
 */
public record LoaderStats(long samples, long tokens, long batches, long paddedTokens, long bytesMoved,
                          long stagingBytes, long waitNanos, long elapsedNanos, String backend, int device,
                          long h2dBytes, long d2hBytes, long statusBytes, double deviceMillisPerBatch) {

    /**
     * Several ranks' stats as one (LocalRanks): counts and bytes summed; the longest elapsed and wait times,
     * so the rates are over the slowest rank's time; no single device ({@code device} -1,
     * {@code deviceMillisPerBatch} NaN); the first rank's backend.
     *
     * @param ranks each rank's stats
     * @return the combined stats
     */
    public static LoaderStats combined(java.util.List<LoaderStats> ranks) {
        long samples = 0, tokens = 0, batches = 0, padded = 0, moved = 0, staging = 0, wait = 0, elapsed = 0, h2d = 0,
                d2h = 0, status = 0;
        for (LoaderStats s : ranks) {
            samples += s.samples;
            tokens += s.tokens;
            batches += s.batches;
            padded += s.paddedTokens;
            moved += s.bytesMoved;
            staging += s.stagingBytes;
            wait = Math.max(wait, s.waitNanos);
            elapsed = Math.max(elapsed, s.elapsedNanos);
            h2d += s.h2dBytes;
            d2h += s.d2hBytes;
            status += s.statusBytes;
        }
        return new LoaderStats(samples, tokens, batches, padded, moved, staging, wait, elapsed,
                ranks.isEmpty() ? "" : ranks.get(0).backend, -1, h2d, d2h, status, Double.NaN);
    }

    /**
     * Padding's share of the token slots: 1 - tokens / paddedTokens.
     *
     * @return the ratio, in [0, 1]; 0 before any batch
     */
    public double paddingRatio() {
        return paddedTokens == 0 ? 0 : 1.0 - (double) tokens / paddedTokens;
    }

    /**
     * Elapsed time from the first request to the last batch handed out.
     *
     * @return the time, in seconds
     */
    public double seconds() {
        return elapsedNanos / 1e9;
    }

    /**
     * Sample entries handed out per second of elapsed time.
     *
     * @return the rate; 0 before any batch
     */
    public double samplesPerSecond() {
        return elapsedNanos == 0 ? 0 : samples / seconds();
    }

    /**
     * Real tokens handed out per second of elapsed time.
     *
     * @return the rate; 0 before any batch
     */
    public double tokensPerSecond() {
        return elapsedNanos == 0 ? 0 : tokens / seconds();
    }

    /**
     * Time the consumer waited for a batch that was not ready.
     *
     * @return the time, in seconds
     */
    public double waitSeconds() {
        return waitNanos / 1e9;
    }

    /**
     * Data stall: the time the consumer waited for a batch that was not ready (the same as waitSeconds).
     *
     * @return the time, in seconds
     */
    public double stallSeconds() {
        return waitSeconds();
    }
}
