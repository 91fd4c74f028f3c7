package io.cubatch.collate;

import io.cubatch.store.SampleStore;

/**
 * A dataset uploaded once to a device (device-resident mode), made by a device backend's
 * {@link Collator#upload}: batches from it send only their sample indices to the device. The host store stays
 * the source of lengths for shapes and messages and must stay open while this is used. Owns its device memory.
 */
public interface ResidentStore extends AutoCloseable {

    /**
     * The host store it was uploaded from.
     *
     * @return the host store
     */
    SampleStore host();

    /**
     * The GPU it is on.
     *
     * @return the CUDA device ordinal
     */
    int device();

    /**
     * Device bytes held.
     *
     * @return the byte count
     */
    long bytes();

    @Override
    void close();
}
