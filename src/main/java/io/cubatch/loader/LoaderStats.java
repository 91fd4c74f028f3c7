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

    /** Padding's share of the token slots: 1 - tokens / paddedTokens. */
    public double paddingRatio() {
        return paddedTokens == 0 ? 0 : 1.0 - (double) tokens / paddedTokens;
    }

    public double seconds() {
        return elapsedNanos / 1e9;
    }

    public double samplesPerSecond() {
        return elapsedNanos == 0 ? 0 : samples / seconds();
    }

    public double tokensPerSecond() {
        return elapsedNanos == 0 ? 0 : tokens / seconds();
    }

    public double waitSeconds() {
        return waitNanos / 1e9;
    }

    /** Data stall: the time the consumer waited for a batch that was not ready (the same as waitSeconds). */
    public double stallSeconds() {
        return waitSeconds();
    }
}
