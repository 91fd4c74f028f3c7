package io.cubatch.cuda;

import io.cubatch.collate.DeviceTensors;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.LongFunction;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * A padded batch's tensors in a {@link CudaSlot}'s device memory: addresses (for JCuda, cuBLAS or any CUDA
 * code), the shape, the slot's stream and the event recorded after the batch's last operation. Valid while
 * the batch that holds them is open; the slot is then refilled.
 *
 * <p>Use them on the slot's stream, or make your stream wait for {@link #readyEvent()}
 * ({@code cuStreamWaitEvent}), or call {@link #await()}. When your stream has been given work on them, give
 * them back with {@link #releaseAfter(CUstream)} before closing the batch: the slot's next batch then waits
 * for that point of your stream on the device, not on the host.
 */
public final class CudaTensors implements DeviceTensors {
    private final CudaSlot slot;
    private final PaddedShape shape;
    private final DeviceMemory output;
    private final long[] at;   // offsets in output: data, lengths, mask, positions, end, cu_seqlens, max_seqlen (-1: none)
    private final long h2dBytes;
    private final long realTokens;
    private final LongFunction<RuntimeException> valueDoesNotFit;
    private boolean checked;

    CudaTensors(CudaSlot slot, PaddedShape shape, DeviceMemory output, long[] at, long h2dBytes, long realTokens,
                LongFunction<RuntimeException> valueDoesNotFit) {
        this.realTokens = realTokens;
        this.slot = slot;
        this.shape = shape;
        this.output = output;
        this.at = at.clone();
        this.h2dBytes = h2dBytes;
        this.valueDoesNotFit = valueDoesNotFit;
    }

    /**
     * The {@link CudaTensors} of a device batch (a {@link DeviceTensors} of the cuda backend).
     *
     * @param tensors the device tensors of a batch of the cuda backend
     * @return the same object, as its class
     * @throws IllegalArgumentException when they come from another backend
     */
    public static CudaTensors of(DeviceTensors tensors) {
        if (tensors instanceof CudaTensors c) {
            return c;
        }
        throw new IllegalArgumentException("not a cuda batch: " + tensors.getClass().getName());
    }

    @Override
    public PaddedShape shape() {
        return shape;
    }

    @Override
    public int device() {
        return slot.device();
    }

    @Override
    public long data() {
        return output.address() + at[0];
    }

    /**
     * The data as a JCuda pointer, for cuMemcpy calls.
     *
     * @return a pointer into the slot's device memory; valid while the batch is open
     */
    public CUdeviceptr dataPointer() {
        return output.at(at[0]);
    }

    @Override
    public long lengths() {
        return output.address() + at[1];
    }

    @Override
    public long attentionMask() {
        return output.address() + at[2];
    }

    @Override
    public long positions() {
        return at[3] < 0 ? 0 : output.address() + at[3];
    }

    @Override
    public long cuSeqlens() {
        return at[5] < 0 ? 0 : output.address() + at[5];
    }

    @Override
    public long maxSeqlen() {
        return at[6] < 0 ? 0 : output.address() + at[6];
    }

    /**
     * Copies {@code to.byteSize()} bytes from device address {@code from}, which must lie in this batch's
     * tensors, after waiting for the batch: for tensors {@link #copyTo} does not cover (cu_seqlens, a packed
     * batch's lengths).
     *
     * @param from the device address to copy from
     * @param to the host destination; its size is the byte count
     * @throws IndexOutOfBoundsException when the range is not inside this batch's tensors
     * @throws io.cubatch.collate.CollateException as {@link #await()} does
     */
    public void copyToHost(long from, MemorySegment to) {
        long offset = from - output.address();
        if (offset < 0 || to.byteSize() > output.bytes() - offset) {
            throw new IndexOutOfBoundsException("[" + from + ", +" + to.byteSize() + ") is not inside this batch's"
                    + " device tensors");
        }
        await();
        slot.synchronizeStream();
        copyToHost(to, output.at(offset), to.byteSize());
    }

    @Override
    public long h2dBytes() {
        return h2dBytes;
    }

    /**
     * Real (non-padding) timesteps in the batch, after truncation.
     *
     * @return the timestep count
     */
    public long realTokens() {
        return realTokens;
    }

    /**
     * The stream the batch was built on.
     *
     * @return the slot's stream
     */
    public CUstream stream() {
        return slot.stream();
    }

    /**
     * Recorded after the batch's last operation on {@link #stream()}.
     *
     * @return the slot's event
     */
    public CUevent readyEvent() {
        return slot.done;
    }

    /**
     * Waits until the batch is ready and checks the kernel's error words.
     *
     * @throws io.cubatch.collate.CollateException naming the value that does not fit, as the other backends do
     */
    @Override
    public void await() {
        slot.awaitDone();
        if (!checked) {
            checked = true;
            MemorySegment words = slot.hostWords();
            long valueError = words.get(ValueLayout.JAVA_LONG, 0);
            long tooLong = words.get(ValueLayout.JAVA_LONG, 8);
            if (tooLong != -1L) {
                throw new IllegalStateException("the pad kernel found row " + tooLong + " too long after Java had"
                        + " validated the batch: this is a bug, please report it");
            }
            if (valueError != -1L) {
                throw valueDoesNotFit.apply(valueError);
            }
        }
    }

    /**
     * The slot's next batch waits (on the device) until {@code consumer} reaches this point of its work.
     *
     * @param consumer the stream that uses the tensors
     */
    public void releaseAfter(CUstream consumer) {
        slot.releaseAfter(consumer);
    }

    /**
     * Waits for the batch ({@link #await()}, which also checks the kernel's error words), then copies it into
     * host buffers of the same shape (native memory, usually pageable: the copies are synchronous).
     *
     * @param out host buffers whose shape equals this batch's
     * @throws IllegalArgumentException when the shapes differ
     * @throws io.cubatch.collate.CollateException as {@link #await()} does
     */
    public void copyTo(PaddedBatch out) {
        if (!out.shape().equals(shape)) {
            throw new IllegalArgumentException("host batch shape " + out.shape() + " differs from the device batch's "
                    + shape);
        }
        await();
        slot.synchronizeStream();   // and whatever the caller enqueued on the batch's stream since
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
    static void copyToHost(MemorySegment to, CUdeviceptr from, long bytes) {
        if (bytes > 0) {
            CudaException.check(JCudaDriver.cuMemcpyDtoH(HostPointer.to(to), from, bytes), "cuMemcpyDtoH");
        }
    }
}
