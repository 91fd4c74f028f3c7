package io.cubatch.cuda;

import io.cubatch.collate.Collation;
import io.cubatch.collate.Collator;
import io.cubatch.collate.internal.KernelCodes;
import io.cubatch.collate.internal.SingleUser;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import io.cubatch.cuda.internal.HostPointer;
import io.cubatch.cuda.internal.KernelArgs;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.function.Consumer;
import java.util.function.LongFunction;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * The {@code cuda} backend. Per padded batch: the host gathers only the batch's real (already truncated)
 * tokens and their offsets into a pinned ring slot ({@link CompactLayout}); one async H2D copy sends them;
 * the fused kernel ({@code cb_pad_kernel}, or {@code cb_pad_kernel16} with 16-byte stores when no dtype
 * conversion is needed and rows are multiples of 16 bytes) builds data [B, L(, F)], lengths, attention mask
 * and positions on the device, in the slot's output area. With {@link #upload a device-resident dataset}
 * only the indices travel.
 *
 * <p>{@link #padOnDevice} returns a {@link DeviceBatch} and does not wait: up to K batches (the ring's
 * slots) are in flight at once. {@link #pad} and {@link #stack} implement {@link Collator} by copying the
 * result back into caller memory, so every backend is compared byte for byte with the {@code java} one.
 * Validation (indices, maxlen, pad value) is the shared {@link Collation} code: the kernels only see
 * checked arguments. One thread at a time, like every collator (a second is refused: {@link SingleUser});
 * owns its stream and ring, and its context when made by {@link #open} (cheap: the device's primary context
 * and kernels are registered once per process).
 */
public final class CudaCollator implements Collator {
    private static final long ALIGN = 256;

    private final CudaContext context;
    private final boolean ownsContext;
    private final CUstream stream;
    private final PinnedRing ring;
    private final Arena scratch = Arena.ofShared();
    private final MemorySegment padValue = scratch.allocate(8, 8);
    private Duration slotTimeout = SlotPool.defaultTimeout();
    private long batches;
    private long h2dBytes;
    private long lastH2dBytes;
    private final SingleUser user = new SingleUser("cuda collator");

    /** A collator on {@code context} (which the caller keeps owning) with a ring of {@code slots}. */
    public CudaCollator(CudaContext context, int slots) {
        this(context, slots, false);
    }

    private CudaCollator(CudaContext context, int slots, boolean ownsContext) {
        this.context = context;
        this.ownsContext = ownsContext;
        this.stream = context.newStream();
        try {
            this.ring = new PinnedRing(context, stream, slots);
        } catch (RuntimeException e) {
            context.destroyStream(stream);
            throw e;
        }
    }

    /** A collator with its own context on device {@code device} and a ring of {@code slots}. */
    public static CudaCollator open(int device, int slots) {
        CudaContext c = CudaContext.open(device);
        try {
            return new CudaCollator(c, slots, true);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    @Override
    public String name() {
        return "cuda";
    }

    public CudaContext context() {
        return context;
    }

    /** The ring's slot accounting. */
    public SlotPool slots() {
        return ring.pool();
    }

    /** How long {@link #padOnDevice} waits for a slot when all are held by open batches (default 30 s). */
    public void slotTimeout(Duration timeout) {
        this.slotTimeout = timeout;
    }

    /** Batches built so far. */
    public long batches() {
        return batches;
    }

    /** Bytes sent host to device by all batches so far. */
    public long h2dBytes() {
        return h2dBytes;
    }

    /** Bytes the last batch sent host to device. */
    public long lastH2dBytes() {
        return lastH2dBytes;
    }

    /** Runs {@code call} as the collator's one user ({@link SingleUser}): a second thread is refused. */
    private <T> T entered(java.util.function.Supplier<T> call) {
        user.enter();
        try {
            return call.get();
        } finally {
            user.exit();
        }
    }

    /**
     * Pads {@code indices} of a host store on the device: compact H2D of real tokens and offsets, then the
     * fused kernel. Does not wait; the caller closes the batch.
     *
     * @throws IndexOutOfBoundsException naming an index outside the store
     * @throws io.cubatch.collate.CollateException for a sequence over maxlen without truncation, or a pad
     *                                             value the dtype cannot hold (a value that does not fit is
     *                                             reported by {@link DeviceBatch#await()})
     */
    public DeviceBatch padOnDevice(SampleStore store, long[] indices, Padding padding) {
        return entered(() -> padOnDevice(store, indices, padding, Collation.shape(store, indices, padding)));
    }

    private DeviceBatch padOnDevice(SampleStore store, long[] indices, Padding padding, PaddedShape shape) {
        Collation.padValue(padding, padValue);
        CompactLayout layout = CompactLayout.of(store, indices, padding, shape);
        long[] idx = indices.clone();
        PinnedRing.Slot s = ring.acquire(slotTimeout);
        try {
            long base = send(s, layout.bytes(), staged -> layout.write(store, staged)).address();
            return launchPad(s, shape, padding, base + layout.offsetBytes(), store.dtype(), base, 0, 0,
                    shape.length(), KernelCodes.SIDE_NONE, layout.bytes(),
                    flat -> Collation.valueDoesNotFit(store, idx, padding, shape, flat));
        } catch (RuntimeException e) {
            ring.release(s);
            throw e;
        }
    }

    /** Pads {@code indices} of a device-resident dataset: only the indices cross PCIe. */
    public DeviceBatch padOnDevice(DeviceStore store, long[] indices, Padding padding) {
        return entered(() -> padOnDeviceEntered(store, indices, padding));
    }

    private DeviceBatch padOnDeviceEntered(DeviceStore store, long[] indices, Padding padding) {
        if (store.device() != context.ordinal()) {
            throw new IllegalArgumentException("dataset is resident on device " + store.device()
                    + ", this collator runs on device " + context.ordinal());
        }
        SampleStore hostStore = store.host();
        PaddedShape shape = Collation.shape(hostStore, indices, padding);
        Collation.padValue(padding, padValue);
        long[] idx = indices.clone();
        long bytes = 8L * indices.length;
        PinnedRing.Slot s = ring.acquire(slotTimeout);
        try {
            DeviceMemory in = send(s, bytes,
                    staged -> MemorySegment.copy(idx, 0, staged, ValueLayout.JAVA_LONG_UNALIGNED, 0, idx.length));
            return launchPad(s, shape, padding, store.valuesAddress(), hostStore.dtype(), store.offsetsAddress(),
                    KernelCodes.fixedLength(hostStore), in.address(), shape.limit(),
                    KernelCodes.truncationSide(padding), bytes,
                    flat -> Collation.valueDoesNotFit(hostStore, idx, padding, shape, flat));
        } catch (RuntimeException e) {
            ring.release(s);
            throw e;
        }
    }

    /**
     * Writes {@code bytes} into the slot's pinned host memory ({@code write}) and enqueues their H2D copy
     * into the slot's device input area, which it returns.
     */
    private DeviceMemory send(PinnedRing.Slot s, long bytes, Consumer<MemorySegment> write) {
        MemorySegment staged = s.host(bytes).asSlice(PinnedRing.HOST_HEADER, bytes);
        write.accept(staged);
        DeviceMemory in = s.input(bytes);
        context.makeCurrent();
        if (bytes > 0) {
            CudaException.check(JCudaDriver.cuMemcpyHtoDAsync(in.at(0), HostPointer.to(staged), bytes, stream),
                    "cuMemcpyHtoDAsync");
        }
        return in;
    }

    private static long align(long n) {
        return (n + ALIGN - 1) / ALIGN * ALIGN;
    }

    /** Output area offsets of data, lengths, mask and positions (-1 when none), and the total. */
    static long[] outputLayout(PaddedShape shape) {
        long lengths = align(shape.dataBytes());
        long mask = lengths + align(shape.lengthsBytes());
        long positions = mask + align(shape.maskBytes());
        long end = positions + (shape.positions() ? align(shape.positionsBytes()) : 0);
        return new long[] {0, lengths, mask, shape.positions() ? positions : -1, end};
    }

    /** Whether the 16-byte kernel applies: a bit copy (same dtype, not bool) of rows that are multiples of 16 bytes. */
    static boolean wideStores(DType src, PaddedShape shape) {
        long rowBytes = shape.length() * shape.features() * shape.dtype().byteSize();
        return io.cubatch.collate.internal.Conversions.isBitCopy(src, shape.dtype()) && rowBytes % 16 == 0;
    }

    private DeviceBatch launchPad(PinnedRing.Slot s, PaddedShape shape, Padding padding, long values, DType src,
                                  long offsets, long fixedLen, long indices, long limit, int trunc, long sent,
                                  LongFunction<RuntimeException> valueDoesNotFit) {
        long[] at = outputLayout(shape);
        DeviceMemory out = s.output(at[4]);
        long o = out.address();
        long padAt = s.words.address() + 16;
        s.clearErrorWords();
        setPadValue(s.words.at(16), shape.dtype().byteSize());
        byte[] args = KernelArgs.pad(values, src.ordinal(), offsets, fixedLen, shape.features(), indices,
                shape.batch(), shape.length(), limit, KernelCodes.padSide(padding), trunc, shape.dtype().ordinal(),
                padAt, o + at[0], o + at[1], o + at[2], at[3] < 0 ? 0 : o + at[3]);
        CUdeviceptr valueError = s.words.at(0);
        CUdeviceptr tooLong = s.words.at(8);
        if (wideStores(src, shape)) {
            long chunks = shape.batch() * (shape.length() * shape.features() * shape.dtype().byteSize() / 16);
            context.launch(context.pad16Kernel, "cb_pad_kernel16", Math.max(chunks, (long) shape.batch() * shape.length()),
                    stream, Pointer.to(Pointer.to(args), Pointer.to(tooLong)));
        } else {
            context.launch(context.padKernel, "cb_pad_kernel", shape.dataElements(), stream,
                    Pointer.to(Pointer.to(args), Pointer.to(valueError), Pointer.to(tooLong)));
        }
        s.readBackErrorWordsAndRecordDone();
        batches++;
        h2dBytes += sent;
        lastH2dBytes = sent;
        return new DeviceBatch(this, s, shape, out, at, sent, valueDoesNotFit);
    }

    /** The pad value into device memory without an H2D copy: a memset of the value's own width. */
    private void setPadValue(CUdeviceptr at, int size) {
        switch (size) {
            case 1 -> CudaException.check(JCudaDriver.cuMemsetD8Async(at, padValue.get(ValueLayout.JAVA_BYTE, 0), 1,
                    stream), "cuMemsetD8Async");
            case 2 -> CudaException.check(JCudaDriver.cuMemsetD16Async(at, padValue.get(ValueLayout.JAVA_SHORT, 0), 1,
                    stream), "cuMemsetD16Async");
            case 4 -> CudaException.check(JCudaDriver.cuMemsetD32Async(at, padValue.get(ValueLayout.JAVA_INT, 0), 1,
                    stream), "cuMemsetD32Async");
            case 8 -> {
                CudaException.check(JCudaDriver.cuMemsetD32Async(at, padValue.get(ValueLayout.JAVA_INT, 0), 1, stream),
                        "cuMemsetD32Async");
                CudaException.check(JCudaDriver.cuMemsetD32Async(at.withByteOffset(4),
                        padValue.get(ValueLayout.JAVA_INT, 4), 1, stream), "cuMemsetD32Async");
            }
            default -> throw new IllegalStateException("element size " + size);
        }
    }

    /** Uploads {@code store} to this collator's GPU if it fits {@code budgetBytes}; the caller closes it. */
    public DeviceStore upload(SampleStore store, long budgetBytes) {
        return entered(() -> DeviceStore.upload(context, store, budgetBytes));
    }

    @Override
    public void pad(SampleStore store, long[] indices, Padding padding, PaddedBatch out) {
        entered(() -> {
            PaddedShape shape = Collation.checkOutput(store, indices, padding, out);
            try (DeviceBatch b = padOnDevice(store, indices, padding, shape)) {
                b.copyTo(out);
            }
            return null;
        });
    }

    @Override
    public void stack(SampleStore store, long[] indices, DType dtype, MemorySegment out) {
        entered(() -> {
            stackEntered(store, indices, dtype, out);
            return null;
        });
    }

    private void stackEntered(SampleStore store, long[] indices, DType dtype, MemorySegment out) {
        long rowElems = Collation.checkStack(store, indices, dtype, out);
        long rowBytes = rowElems * store.dtype().byteSize();
        long bytes = rowBytes * indices.length;
        long outBytes = rowElems * indices.length * dtype.byteSize();
        long[] idx = indices.clone();
        PinnedRing.Slot s = ring.acquire(slotTimeout);
        try {
            DeviceMemory in = send(s, bytes, staged -> {
                for (int b = 0; b < idx.length; b++) {
                    MemorySegment.copy(store.values(), idx[b] * rowBytes, staged, b * rowBytes, rowBytes);
                }
            });
            DeviceMemory o = s.output(outBytes);
            s.clearErrorWords();
            byte[] args = KernelArgs.stack(in.address(), store.dtype().ordinal(), rowElems, 0, idx.length,
                    dtype.ordinal(), o.address());
            context.launch(context.stackKernel, "cb_stack_kernel", rowElems * idx.length, stream,
                    Pointer.to(Pointer.to(args), Pointer.to(s.words.at(0))));
            s.readBackErrorWordsAndRecordDone();
            CudaException.check(JCudaDriver.cuEventSynchronize(s.done), "cuEventSynchronize");
            batches++;
            h2dBytes += bytes;
            lastH2dBytes = bytes;
            long bad = s.hostWords().get(ValueLayout.JAVA_LONG, 0);
            if (bad != -1L) {
                throw Collation.stackValueDoesNotFit(store, idx, dtype, rowElems, bad);
            }
            // `out` is the caller's (pageable) memory: a synchronous copy, after the stream's work is done
            DeviceBatch.copyToHost(out, o.at(0), outBytes);
        } finally {
            ring.release(s);
        }
    }

    void release(PinnedRing.Slot s) {
        ring.release(s);
    }

    /**
     * Waits for the stream, frees the ring (pinned and device memory), destroys the stream, and closes the
     * context if this owns it. Every step runs even when one fails; the first failure is thrown. During a call
     * on another thread, waits for it first ({@link SingleUser}).
     */
    @Override
    public void close() {
        user.close(this::closeSteps);
    }

    private void closeSteps() {
        RuntimeException first = null;
        Runnable[] steps = {ring::close, () -> context.destroyStream(stream), scratch::close,
            () -> {
                if (ownsContext) {
                    context.close();
                }
            }};
        for (Runnable step : steps) {
            try {
                step.run();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
