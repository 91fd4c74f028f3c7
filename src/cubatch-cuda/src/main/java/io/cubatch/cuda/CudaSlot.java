package io.cubatch.cuda;

import io.cubatch.collate.BackendProvider;
import io.cubatch.collate.BatchSlot;
import io.cubatch.collate.Collation;
import io.cubatch.collate.KernelCodes;
import io.cubatch.collate.PackLayout;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import io.cubatch.cuda.internal.KernelArgs;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.function.Consumer;
import java.util.function.LongFunction;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * One batch's worth of GPU resources, reused batch after batch: its own context handle and non-blocking
 * stream, page-locked host staging ({@code cuMemHostAlloc} through {@code java.lang.foreign}, any size, owned
 * by the slot's Arena), a device input area (what the H2D copy fills), a device output area (the batch's
 * tensors), a small device word area (error words, pad value), and events: {@code start} and {@code done}
 * around the slot's work (timed, for the device time per batch), and {@code released}, recorded on a
 * consumer's stream when it gives the batch back without a host wait. Areas grow when a bigger batch comes.
 *
 * <p>The one slot type of the cuda backend: a {@link io.cubatch.loader.BatchLoader}'s ring holds K of them
 * ({@link CudaCollator#newSlot}); code that drives the GPU itself can hold its own and {@link #enqueue} into
 * them (K slots used round robin keep K batches in flight). A slot holds one batch at a time; before it is
 * refilled, its previous work has finished on the device and the consumer's release (if any) is waited for
 * on the device. Not thread-safe: one filler at a time.
 */
public final class CudaSlot implements BatchSlot {
    /** Host bytes before the staged batch: the error words read back from the device. */
    static final long HOST_HEADER = 64;
    private static final long ALIGN = 256;

    private final CudaContext context;
    private final CUstream stream;
    final CUevent start = new CUevent();
    final CUevent done = new CUevent();
    private final CUevent released = new CUevent();
    private final DeviceMemory words;
    private Arena hostArena;
    private MemorySegment host = MemorySegment.NULL;
    private DeviceMemory input;
    private DeviceMemory output;
    private final MemorySegment padValue;
    private final Arena scratch = Arena.ofShared();
    private boolean used;
    private boolean timed;
    private boolean releasePending;
    private double deviceMillis;
    private long timedBatches;
    private long h2dBytes;
    private boolean closed;

    /**
     * A slot on {@code device}; its memory is allocated by its first batch. What the constructor made is
     * freed again when a later step fails.
     *
     * @param device the CUDA device ordinal
     * @throws IllegalStateException when the cuda backend is unavailable here
     * @throws IllegalArgumentException for a device that does not exist
     * @throws CudaException when the driver refuses a stream or an event
     */
    public CudaSlot(int device) {
        CudaContext c = CudaContext.open(device);
        CUstream s = null;
        int events = 0;
        DeviceMemory w = null;
        try {
            s = c.newStream();
            c.makeCurrent();
            CudaException.check(JCudaDriver.cuEventCreate(start, CUevent_flags.CU_EVENT_DEFAULT), "cuEventCreate");
            events++;
            CudaException.check(JCudaDriver.cuEventCreate(done, CUevent_flags.CU_EVENT_DEFAULT), "cuEventCreate");
            events++;
            CudaException.check(JCudaDriver.cuEventCreate(released, CUevent_flags.CU_EVENT_DISABLE_TIMING),
                    "cuEventCreate");
            events++;
            w = c.allocate(32);
        } catch (RuntimeException e) {
            CUevent[] made = {start, done, released};
            for (int i = 0; i < events; i++) {
                JCudaDriver.cuEventDestroy(made[i]);
            }
            if (s != null) {
                c.destroyStream(s);
            }
            c.close();
            scratch.close();
            throw e;
        }
        this.context = c;
        this.stream = s;
        this.words = w;
        this.padValue = scratch.allocate(8, 8);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("cuda slot is closed");
        }
    }

    @Override
    public BackendProvider.Memory memory() {
        return BackendProvider.Memory.DEVICE;
    }

    @Override
    public int device() {
        return context.ordinal();
    }

    CudaContext context() {
        return context;
    }

    /**
     * The slot's stream: its copies and kernels run there.
     *
     * @return the stream, owned by the slot
     */
    public CUstream stream() {
        return stream;
    }

    @Override
    public synchronized long bytesHeld() {
        return host.byteSize() + words.bytes() + (input == null ? 0 : input.bytes()) + (output == null ? 0 : output.bytes());
    }

    /** Milliseconds of device work so far ({@code start} to {@code done}), over {@link #timedBatches()}. */
    @Override
    public synchronized double deviceMillis() {
        return deviceMillis;
    }

    /** Batches whose device time was measured. */
    @Override
    public synchronized long timedBatches() {
        return timedBatches;
    }

    /**
     * Bytes sent host to device by this slot's batches.
     *
     * @return the byte count, over all batches
     */
    public synchronized long h2dBytes() {
        return h2dBytes;
    }

    /**
     * Makes the slot ready for its next batch: waits (host) for its previous work, measures that work's
     * device time, and makes its stream wait (device) for a consumer's release.
     */
    private void reuse() {
        context.makeCurrent();
        if (used) {
            CudaException.check(JCudaDriver.cuEventSynchronize(done), "cuEventSynchronize");
            measure();
        }
        if (releasePending) {
            CudaException.check(JCudaDriver.cuStreamWaitEvent(stream, released, 0), "cuStreamWaitEvent");
            releasePending = false;
        }
    }

    /** Adds the finished batch's device time, once. The caller has made the context current. */
    private void measure() {
        if (timed) {
            float[] ms = new float[1];
            CudaException.check(JCudaDriver.cuEventElapsedTime(ms, start, done), "cuEventElapsedTime");
            deviceMillis += ms[0];
            timedBatches++;
            timed = false;
        }
    }

    /** Measures the last batch if the device has finished it (no host wait); used when a batch is given back. */
    synchronized void measureIfDone() {
        if (!closed && timed) {
            context.makeCurrent();
            int r = JCudaDriver.cuEventQuery(done);
            if (r == jcuda.driver.CUresult.CUDA_SUCCESS) {
                measure();
            } else if (r != jcuda.driver.CUresult.CUDA_ERROR_NOT_READY) {
                throw new CudaException("cuEventQuery", r);
            }
        }
    }

    /**
     * Pads {@code indices} of a host store on the device: gathers only the batch's real (truncated) tokens and
     * their offsets into the pinned staging ({@link CompactLayout}), one async H2D copy, then the fused
     * kernel. Returns without waiting for the device ({@link CudaTensors#await()} waits); the previous batch
     * of this slot must no longer be in use.
     *
     * @param store the host store
     * @param indices the batch's sample indices, at least one
     * @param padding the padding
     * @return the batch's tensors in the slot's device memory; valid until the slot is refilled or closed
     * @throws IndexOutOfBoundsException naming an index outside the store
     * @throws io.cubatch.collate.CollateException for a sequence over maxlen without truncation, or a pad value
     *                                             the dtype cannot hold (a value that does not fit is reported
     *                                             by {@link CudaTensors#await()})
     */
    public CudaTensors enqueue(SampleStore store, long[] indices, Padding padding) {
        return padCompact(store, indices, padding, Collation.shape(store, indices, padding));
    }

    /**
     * Packs {@code indices} on the device as {@code layout} places them ({@link PackLayout#of}): the host sends
     * the real tokens in packed order and, per sequence, its first compact timestep, its length and its output
     * start (24 bytes); {@code cb_pack_kernel} writes data, mask, positions, lengths, cu_seqlens and max_seqlen.
     * Returns without waiting for the device.
     *
     * @param store the host store
     * @param indices the batch's sample indices
     * @param padding the padding, with a fixed maxlen
     * @param layout the layout of these indices, from {@link PackLayout#of}
     * @return the packed batch's tensors in the slot's device memory; valid until the slot is refilled or closed
     * @throws io.cubatch.collate.CollateException when the pad value does not fit the dtype
     */
    public synchronized CudaTensors enqueuePacked(SampleStore store, long[] indices, Padding padding, PackLayout layout) {
        checkOpen();
        Collation.padValue(padding, padValue);
        int seqs = layout.sequences();
        long f = layout.features();
        int elem = store.dtype().byteSize();
        long tables = 24L * seqs;
        long bytes = tables + layout.realTokens() * f * elem;
        long[] idx = indices.clone();
        reuse();
        long base = send(bytes, staged -> {
            long compact = 0;
            for (int k = 0; k < seqs; k++) {
                staged.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, k, compact);
                staged.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, seqs + k, layout.keep(k));
                staged.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, 2L * seqs + k, layout.start(k));
                long n = layout.keep(k) * f * elem;
                MemorySegment.copy(store.values(), layout.first(k) * f * elem, staged, tables + compact * f * elem, n);
                compact += layout.keep(k);
            }
        }).address();
        PaddedShape shape = layout.shape();
        long cells = (long) layout.rows() * layout.maxlen();
        long mask = align(shape.dataBytes());
        long positions = mask + align(cells);
        long lengths = positions + (shape.positions() ? align(4 * cells) : 0);
        long cu = lengths + align(4L * seqs);
        long max = cu + align(4L * (seqs + 1));
        long end = max + ALIGN;
        DeviceMemory old = output;
        output = null;
        output = grow(old, end);
        long o = output.address();
        clearErrorWords();
        setPadValue(words.at(16), shape.dtype().byteSize());
        byte[] args = KernelArgs.pack(base + tables, store.dtype().ordinal(), f, base, base + 8L * seqs,
                base + 16L * seqs, seqs, layout.rows(), layout.maxlen(), shape.dtype().ordinal(), words.address() + 16,
                o, o + mask, shape.positions() ? o + positions : 0, o + lengths, o + cu, o + max);
        context.launchRows(context.packKernel, "cb_pack_kernel", seqs + 1L, layout.maxlen() * f, stream,
                Pointer.to(Pointer.to(args), Pointer.to(words.at(0))));
        readBackErrorWordsAndRecordDone();
        long[] at = {0, lengths, mask, shape.positions() ? positions : -1, end, cu, max};
        return new CudaTensors(this, shape, output, at, bytes, layout.realTokens(),
                e -> layout.valueDoesNotFit(store, idx, padding, e));
    }

    /**
     * {@link #enqueue(SampleStore, long[], Padding)} from a device-resident dataset: only the indices travel.
     *
     * @param store the dataset on this slot's device ({@link DeviceStore})
     * @param indices the batch's sample indices, at least one
     * @param padding the padding
     * @return the batch's tensors in the slot's device memory; valid until the slot is refilled or closed
     * @throws IndexOutOfBoundsException naming an index outside the store
     * @throws io.cubatch.collate.CollateException as {@link #enqueue(SampleStore, long[], Padding)} does
     */
    public CudaTensors enqueue(DeviceStore store, long[] indices, Padding padding) {
        return padResident(store, indices, padding, Collation.shape(store.host(), indices, padding));
    }

    synchronized CudaTensors padCompact(SampleStore store, long[] indices, Padding padding, PaddedShape shape) {
        checkOpen();
        Collation.padValue(padding, padValue);   // a value the dtype cannot hold fails here, before the slot is used
        CompactLayout layout = CompactLayout.of(store, indices, padding, shape);
        long[] idx = indices.clone();
        reuse();
        long base = send(layout.bytes(), staged -> layout.write(store, staged)).address();
        return launchPad(shape, padding, base + layout.offsetBytes(), store.dtype(), base, 0, 0, shape.length(),
                KernelCodes.SIDE_NONE, layout.bytes(), layout.timesteps(),
                flat -> Collation.valueDoesNotFit(store, idx, padding, shape, flat));
    }

    /** Pads {@code indices} of a device-resident dataset: only the indices cross PCIe. */
    synchronized CudaTensors padResident(DeviceStore store, long[] indices, Padding padding, PaddedShape shape) {
        checkOpen();
        Collation.padValue(padding, padValue);
        if (store.device() != device()) {
            throw new IllegalArgumentException("dataset is resident on device " + store.device() + ", this slot is on"
                    + " device " + device());
        }
        SampleStore hostStore = store.host();
        long[] idx = indices.clone();
        long bytes = 8L * indices.length;
        long real = 0;
        for (long i : idx) {
            real += Math.min(hostStore.length(i), shape.limit());
        }
        reuse();
        DeviceMemory in = send(bytes,
                staged -> MemorySegment.copy(idx, 0, staged, ValueLayout.JAVA_LONG_UNALIGNED, 0, idx.length));
        return launchPad(shape, padding, store.valuesAddress(), hostStore.dtype(), store.offsetsAddress(),
                KernelCodes.fixedLength(hostStore), in.address(), shape.limit(), KernelCodes.truncationSide(padding),
                bytes, real, flat -> Collation.valueDoesNotFit(hostStore, idx, padding, shape, flat));
    }

    /**
     * Stacks fixed-shape rows on the device and copies them into {@code out} (the caller's memory), waiting
     * for the result.
     */
    synchronized void stack(SampleStore store, long[] indices, DType dtype, long rowElems, MemorySegment out) {
        checkOpen();
        long rowBytes = rowElems * store.dtype().byteSize();
        long bytes = rowBytes * indices.length;
        long outBytes = rowElems * indices.length * dtype.byteSize();
        long[] idx = indices.clone();
        reuse();
        DeviceMemory in = send(bytes, staged -> {
            for (int b = 0; b < idx.length; b++) {
                MemorySegment.copy(store.values(), idx[b] * rowBytes, staged, b * rowBytes, rowBytes);
            }
        });
        DeviceMemory old = output;
        output = null;
        output = grow(old, outBytes);
        clearErrorWords();
        byte[] args = KernelArgs.stack(in.address(), store.dtype().ordinal(), rowElems, 0, idx.length, dtype.ordinal(),
                output.address());
        context.launchRows(context.stackKernel, "cb_stack_kernel", idx.length, rowElems, stream,
                Pointer.to(Pointer.to(args), Pointer.to(words.at(0))));
        readBackErrorWordsAndRecordDone();
        CudaException.check(JCudaDriver.cuEventSynchronize(done), "cuEventSynchronize");
        measure();
        long bad = hostWords().get(ValueLayout.JAVA_LONG, 0);
        if (bad != -1L) {
            throw Collation.stackValueDoesNotFit(store, idx, dtype, rowElems, bad);
        }
        // `out` is the caller's (pageable) memory: a synchronous copy, after the stream's work is done
        CudaTensors.copyToHost(out, output.at(0), outBytes);
    }

    /**
     * Writes {@code bytes} into the pinned staging ({@code write}) and enqueues their H2D copy into the
     * device input area, which it returns. Records {@code start} first.
     */
    private DeviceMemory send(long bytes, Consumer<MemorySegment> write) {
        MemorySegment staged = host(bytes).asSlice(HOST_HEADER, bytes);
        write.accept(staged);
        DeviceMemory old = input;
        input = null;   // a failed growth must not leave a closed area behind
        input = grow(old, bytes);
        context.makeCurrent();
        CudaException.check(JCudaDriver.cuEventRecord(start, stream), "cuEventRecord");
        if (bytes > 0) {
            CudaException.check(JCudaDriver.cuMemcpyHtoDAsync(input.at(0), HostPointer.to(staged), bytes, stream),
                    "cuMemcpyHtoDAsync");
        }
        h2dBytes += bytes;
        return input;
    }

    /** Pinned host memory of at least {@code bytes} after the header. */
    MemorySegment host(long bytes) {
        long need = HOST_HEADER + bytes;
        if (host.byteSize() < need) {
            long capacity = Math.max(need, Math.min(2 * host.byteSize(), need + (64L << 20)));
            freeHost();
            Arena arena = Arena.ofShared();
            try {
                host = context.allocatePinned(capacity, arena);
            } catch (RuntimeException e) {
                arena.close();
                throw e;
            }
            hostArena = arena;
        }
        return host;
    }

    private DeviceMemory grow(DeviceMemory m, long bytes) {
        if (m != null && m.bytes() >= bytes) {
            return m;
        }
        waitForRelease();   // a consumer's stream may still read the area about to be freed
        long capacity = Math.max(bytes, m == null ? 0 : Math.min(2 * m.bytes(), bytes + (64L << 20)));
        if (m != null) {
            m.close();
        }
        return context.allocate(capacity);
    }

    private static long align(long n) {
        return (n + ALIGN - 1) / ALIGN * ALIGN;
    }

    /**
     * Output area offsets of data, lengths, mask and positions (-1 when none), the total, and cu_seqlens and
     * max_seqlen (-1: a padded batch has none).
     */
    static long[] outputLayout(PaddedShape shape) {
        long lengths = align(shape.dataBytes());
        long mask = lengths + align(shape.lengthsBytes());
        long positions = mask + align(shape.maskBytes());
        long end = positions + (shape.positions() ? align(shape.positionsBytes()) : 0);
        return new long[] {0, lengths, mask, shape.positions() ? positions : -1, end, -1, -1};
    }

    /**
     * Whether the 16-byte kernel applies: a bit copy (same dtype, not bool, whose bytes are normalised) of rows
     * that are multiples of 16 bytes.
     */
    static boolean wideStores(DType src, PaddedShape shape) {
        long rowBytes = shape.length() * shape.features() * shape.dtype().byteSize();
        return src == shape.dtype() && src != DType.BOOL && rowBytes % 16 == 0;
    }

    private CudaTensors launchPad(PaddedShape shape, Padding padding, long values, DType src, long offsets,
                                  long fixedLen, long indices, long limit, int trunc, long sent, long realTokens,
                                  LongFunction<RuntimeException> valueDoesNotFit) {
        long[] at = outputLayout(shape);
        DeviceMemory old = output;
        output = null;
        output = grow(old, at[4]);
        long o = output.address();
        long padAt = words.address() + 16;
        clearErrorWords();
        setPadValue(words.at(16), shape.dtype().byteSize());
        byte[] args = KernelArgs.pad(values, src.ordinal(), offsets, fixedLen, shape.features(), indices,
                shape.batch(), shape.length(), limit, KernelCodes.padSide(padding), trunc, shape.dtype().ordinal(),
                padAt, o + at[0], o + at[1], o + at[2], at[3] < 0 ? 0 : o + at[3]);
        CUdeviceptr valueError = words.at(0);
        CUdeviceptr tooLong = words.at(8);
        if (wideStores(src, shape)) {
            long chunks = shape.length() * shape.features() * shape.dtype().byteSize() / 16;
            context.launchRows(context.pad16Kernel, "cb_pad_kernel16", shape.batch(), Math.max(chunks, shape.length()),
                    stream, Pointer.to(Pointer.to(args), Pointer.to(tooLong)));
        } else {
            context.launchRows(context.padKernel, "cb_pad_kernel", shape.batch(), shape.length() * shape.features(), stream,
                    Pointer.to(Pointer.to(args), Pointer.to(valueError), Pointer.to(tooLong)));
        }
        readBackErrorWordsAndRecordDone();
        return new CudaTensors(this, shape, output, at, sent, realTokens, valueDoesNotFit);
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

    /** The error words as read back from the device: [value error, too-long error], -1 when none. */
    MemorySegment hostWords() {
        return host.asSlice(0, 16);
    }

    /** Enqueues the error words' reset to -1 (no error), before a kernel that may report into them. */
    private void clearErrorWords() {
        CudaException.check(JCudaDriver.cuMemsetD8Async(words.at(0), (byte) 0xff, 16, stream), "cuMemsetD8Async");
    }

    /** Enqueues the error words' copy into {@link #hostWords()}, then records {@code done}. */
    private void readBackErrorWordsAndRecordDone() {
        host(0);
        CudaException.check(JCudaDriver.cuMemcpyDtoHAsync(HostPointer.to(hostWords()), words.at(0), 16, stream),
                "cuMemcpyDtoHAsync");
        CudaException.check(JCudaDriver.cuEventRecord(done, stream), "cuEventRecord");
        used = true;
        timed = true;
    }

    /** Waits (host) until the slot's current batch is done on the device. */
    synchronized void awaitDone() {
        checkOpen();
        context.makeCurrent();
        CudaException.check(JCudaDriver.cuEventSynchronize(done), "cuEventSynchronize");
    }

    /** Waits (host) for all work on the slot's stream, the caller's too. */
    public void synchronize() {
        synchronizeStream();
    }

    /** Waits (host) for all work on the slot's stream, the caller's too; leaves the context current. */
    synchronized void synchronizeStream() {
        checkOpen();
        context.makeCurrent();
        CudaException.check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
    }

    /** The consumer's stream finishes with this slot's output at this point of its work. */
    synchronized void releaseAfter(CUstream consumer) {
        checkOpen();
        context.makeCurrent();
        CudaException.check(JCudaDriver.cuEventRecord(released, consumer), "cuEventRecord");
        releasePending = true;
    }

    /** Waits (host) for the consumer stream the last batch was released to, if any, to pass that point. */
    private void waitForRelease() {
        if (releasePending) {
            context.makeCurrent();
            CudaException.check(JCudaDriver.cuEventSynchronize(released), "cuEventSynchronize");
        }
    }

    /** Frees the pinned block (its Arena), after which no segment of it is accessible. */
    private void freeHost() {
        if (hostArena != null) {
            Arena a = hostArena;
            hostArena = null;
            host = MemorySegment.NULL;
            a.close();
        }
    }

    /**
     * Waits for the slot's stream, then frees everything it holds (every step runs even when one fails; the
     * first failure is thrown after). Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException first = null;
        Runnable[] steps = {
            () -> {
                context.makeCurrent();
                CudaException.check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize");
                waitForRelease();
            },
            this::freeHost, () -> close(input), () -> close(output), () -> close(words),
            () -> CudaException.check(JCudaDriver.cuEventDestroy(start), "cuEventDestroy"),
            () -> CudaException.check(JCudaDriver.cuEventDestroy(done), "cuEventDestroy"),
            () -> CudaException.check(JCudaDriver.cuEventDestroy(released), "cuEventDestroy"),
            () -> context.destroyStream(stream), context::close, scratch::close};
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
        input = null;
        output = null;
        if (first != null) {
            throw first;
        }
    }

    private static void close(DeviceMemory m) {
        if (m != null) {
            m.close();
        }
    }
}
