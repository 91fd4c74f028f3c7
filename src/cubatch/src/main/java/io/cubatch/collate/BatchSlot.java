package io.cubatch.collate;

/**
 * The memory of one slot of a loader's ring, provided by the backend that fills it
 * ({@link Collator#newSlot}): host buffers for the host backends ({@link HostSlot}); pinned staging, device
 * buffers, a stream and events for a device backend. A slot holds at most one batch at a time: the loader
 * hands it to one worker, which fills it ({@link Collator#fill}), then to the consumer, who closes the batch
 * to give the slot back. The slot's owner (the loader) closes it, which frees all of it.
 */
public interface BatchSlot extends AutoCloseable {

    /**
     * Where the slot's batches live.
     *
     * @return host or device
     */
    BackendProvider.Memory memory();

    /**
     * The GPU the slot's batches are on; -1 for host memory.
     *
     * @return the CUDA device ordinal, or -1
     */
    int device();

    /**
     * Bytes of memory the slot holds (host, pinned and device together).
     *
     * @return the byte count
     */
    long bytesHeld();

    /**
     * Milliseconds of device work measured for this slot's batches so far (0 for host memory).
     *
     * @return the milliseconds, summed over batches
     */
    default double deviceMillis() {
        return 0;
    }

    /**
     * Batches whose device work was measured ({@link #deviceMillis()}).
     *
     * @return the batch count
     */
    default long timedBatches() {
        return 0;
    }

    /** Frees everything the slot holds; idempotent. */
    @Override
    void close();
}
