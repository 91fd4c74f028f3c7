package io.cubatch.cuda;

import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import java.util.function.LongFunction;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * A padded batch on the GPU: device addresses (as {@code long}, for JCuda, cuBLAS or any other CUDA code),
 * the shape and dtype, the stream it was built on and the event that marks it ready. The tensors live in a
 * slot of the collator's pinned ring; {@link #close()} returns the slot, after which the addresses may be
 * overwritten by a later batch. Single-threaded, like its collator.
 *
 * <p>Use it on the ring's stream, or wait for {@link #readyEvent()} on yours ({@code cuStreamWaitEvent}),
 * or call {@link #await()}. Close it when your work on it has finished ({@link #close()}), or when it has
 * been enqueued on your stream ({@link #closeAfter(CUstream)}: the next batch in this slot waits for that
 * point of your stream on the device, not on the host).
 */
public final class DeviceBatch implements AutoCloseable {
    private final CudaCollator owner;
    private final PinnedRing.Slot slot;
    private final PaddedShape shape;
    private final DeviceMemory output;
    private final long[] at;   // byte offsets in output of data, lengths, mask, positions (-1: none)
    private final long h2dBytes;
    private final LongFunction<RuntimeException> valueDoesNotFit;
    private boolean checked;
    private boolean closed;

    DeviceBatch(CudaCollator owner, PinnedRing.Slot slot, PaddedShape shape, DeviceMemory output, long[] at,
                long h2dBytes, LongFunction<RuntimeException> valueDoesNotFit) {
        this.owner = owner;
        this.slot = slot;
        this.shape = shape;
        this.output = output;
        this.at = at.clone();
        this.h2dBytes = h2dBytes;
        this.valueDoesNotFit = valueDoesNotFit;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("device batch is closed; its ring slot is being reused");
        }
    }

    /** [B, L(, F)], the dtype, and whether positions exist. */
    public PaddedShape shape() {
        return shape;
    }

    /** Device address of the data, {@code shape().dataBytes()} bytes. */
    public long data() {
        checkOpen();
        return output.address() + at[0];
    }

    /** Device address of the int32 lengths [B]. */
    public long lengths() {
        checkOpen();
        return output.address() + at[1];
    }

    /** Device address of the uint8 attention mask [B, L]. */
    public long attentionMask() {
        checkOpen();
        return output.address() + at[2];
    }

    /** Device address of the int32 position ids [B, L], or 0 when not asked for. */
    public long positions() {
        checkOpen();
        return at[3] < 0 ? 0 : output.address() + at[3];
    }

    /** The GPU the batch is on. */
    public int device() {
        return owner.context().ordinal();
    }

    /** The stream the batch was built on. */
    public CUstream stream() {
        return slot.ringStream();
    }

    /** Recorded after the batch's last operation on {@link #stream()}. */
    public CUevent readyEvent() {
        checkOpen();
        return slot.done;
    }

    /** Bytes this batch sent host to device: offsets + real tokens (compact), or the indices (resident). */
    public long h2dBytes() {
        return h2dBytes;
    }

    /**
     * Waits until the batch is ready and checks the kernel's error word.
     *
     * @throws io.cubatch.collate.CollateException naming the value that does not fit, as the other backends do
     */
    public DeviceBatch await() {
        checkOpen();
        owner.context().makeCurrent();
        CudaException.check(JCudaDriver.cuEventSynchronize(slot.done), "cuEventSynchronize");
        if (!checked) {
            checked = true;
            long valueError = slot.hostWords().get(java.lang.foreign.ValueLayout.JAVA_LONG, 0);
            long tooLong = slot.hostWords().get(java.lang.foreign.ValueLayout.JAVA_LONG, 8);
            if (tooLong != -1L) {
                throw new IllegalStateException("the pad kernel found row " + tooLong + " too long after Java had"
                        + " validated the batch: this is a bug, please report it");
            }
            if (valueError != -1L) {
                throw valueDoesNotFit.apply(valueError);
            }
        }
        return this;
    }

    /**
     * Waits for the batch ({@link #await()}, which also checks the kernel's error word), then copies it into
     * host buffers of the same shape (native memory, usually pageable: the copies are synchronous).
     */
    public void copyTo(PaddedBatch out) {
        checkOpen();
        if (!out.shape().equals(shape)) {
            throw new IllegalArgumentException("host batch shape " + out.shape() + " differs from the device batch's "
                    + shape);
        }
        await();
        owner.context().makeCurrent();
        copyToHost(out.data(), output.at(at[0]), shape.dataBytes());
        copyToHost(out.lengths(), output.at(at[1]), shape.lengthsBytes());
        copyToHost(out.attentionMask(), output.at(at[2]), shape.maskBytes());
        if (shape.positions()) {
            copyToHost(out.positions(), output.at(at[3]), shape.positionsBytes());
        }
    }

    /**
     * A synchronous device-to-host copy into native memory. The device work that wrote {@code from} must be
     * complete (an async copy into pageable memory would be one more hazard, and is refused by the emulator).
     */
    static void copyToHost(java.lang.foreign.MemorySegment to, CUdeviceptr from, long bytes) {
        if (bytes > 0) {
            CudaException.check(JCudaDriver.cuMemcpyDtoH(HostPointer.to(to), from, bytes), "cuMemcpyDtoH");
        }
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
        checkOpen();
        slot.releaseAfter(consumer);
        close();
    }
}
