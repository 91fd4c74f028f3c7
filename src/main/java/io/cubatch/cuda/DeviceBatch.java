package io.cubatch.cuda;

import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import jcuda.driver.CUevent;
import jcuda.driver.CUstream;

/**
 * A padded batch on the GPU from a {@link CudaCollator} used on its own (a {@link io.cubatch.loader.BatchLoader}
 * hands out {@link io.cubatch.loader.Batch}es instead): its {@link CudaTensors} in one of the collator's
 * {@link CudaSlot}s, which {@link #close()} returns, after which the addresses may be overwritten by a later
 * batch. Single-threaded, like its collator.
 *
 * <p>Use it on its stream, or wait for {@link #readyEvent()} on yours ({@code cuStreamWaitEvent}), or call
 * {@link #await()}. Close it when your work on it has finished ({@link #close()}), or when it has been
 * enqueued on your stream ({@link #closeAfter(CUstream)}: the next batch in this slot waits for that point
 * of your stream on the device, not on the host).
 */
public final class DeviceBatch implements AutoCloseable {
    private final CudaCollator owner;
    private final int slot;
    private final CudaTensors tensors;
    private boolean closed;

    DeviceBatch(CudaCollator owner, int slot, CudaTensors tensors) {
        this.owner = owner;
        this.slot = slot;
        this.tensors = tensors;
    }

    private CudaTensors open() {
        if (closed) {
            throw new IllegalStateException("device batch is closed; its slot is being reused");
        }
        return tensors;
    }

    /** The tensors: device addresses, stream, ready event. */
    public CudaTensors tensors() {
        return open();
    }

    /** [B, L(, F)], the dtype, and whether positions exist. */
    public PaddedShape shape() {
        return tensors.shape();
    }

    /** Device address of the data, {@code shape().dataBytes()} bytes. */
    public long data() {
        return open().data();
    }

    /** Device address of the int32 lengths [B]. */
    public long lengths() {
        return open().lengths();
    }

    /** Device address of the uint8 attention mask [B, L]. */
    public long attentionMask() {
        return open().attentionMask();
    }

    /** Device address of the int32 position ids [B, L], or 0 when not asked for. */
    public long positions() {
        return open().positions();
    }

    /** The GPU the batch is on. */
    public int device() {
        return tensors.device();
    }

    /** The stream the batch was built on. */
    public CUstream stream() {
        return tensors.stream();
    }

    /** Recorded after the batch's last operation on {@link #stream()}. */
    public CUevent readyEvent() {
        return open().readyEvent();
    }

    /** Bytes this batch sent host to device: offsets + real tokens (compact), or the indices (resident). */
    public long h2dBytes() {
        return tensors.h2dBytes();
    }

    /**
     * Waits until the batch is ready and checks the kernel's error word.
     *
     * @throws io.cubatch.collate.CollateException naming the value that does not fit, as the other backends do
     */
    public DeviceBatch await() {
        open().await();
        return this;
    }

    /** Waits for the batch, then copies it into host buffers of the same shape (synchronous copies). */
    public void copyTo(PaddedBatch out) {
        open().copyTo(out);
    }

    public boolean isClosed() {
        return closed;
    }

    /** Returns the slot; your work on the batch must have finished. Idempotent. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            owner.release(slot);
        }
    }

    /** Returns the slot once {@code consumer} reaches this point on the device (no host wait). */
    public void closeAfter(CUstream consumer) {
        open().releaseAfter(consumer);
        close();
    }
}
