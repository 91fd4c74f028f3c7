package io.cubatch.collate.internal;

import io.cubatch.collate.Collation;
import io.cubatch.collate.Collator;
import io.cubatch.collate.PackLayout;
import io.cubatch.collate.HostSlot;
import io.cubatch.collate.FilledBatch;
import io.cubatch.collate.BatchSlot;
import io.cubatch.collate.SingleUser;
import io.cubatch.collate.KernelCodes;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The {@code native} backend: libcubatch's CPU twin of the CUDA kernels through java.lang.foreign, rows
 * spread over the machine's cores. Every argument is validated here first (indices, sizes, truncation),
 * so the library only sees checked input. Owns a small native scratch area (indices, pad value, error
 * word, packing tables), reused across batches and freed by {@link #close()}.
 *
 * <p>One thread at a time ({@link SingleUser}): the indices the library reads are the ones validated
 * for this call, because a second thread calling in is refused with an IllegalStateException instead
 * of overwriting them. {@link #close()} during a pad on another thread waits for it, then frees. That wait is
 * also why the scratch goes to the library as plain addresses, without the acquire and release of its arena's
 * session that a segment argument costs (the store's and the output's segments, which others own, keep theirs).
 */
public final class NativeCollator implements Collator {
    /*
     * The downcall handles as static finals, which the JIT treats as constants: it then compiles invokeExact into
     * a direct call of the native stub. A handle read from an instance field is not a constant, so every call
     * went through MethodHandle.invokeBasic and an uncompiled LambdaForm (3 % of a batch of 8 samples under
     * perf, before the native code ran at all). There is one NativeLibrary per JVM; no collator exists without
     * it, so these are never null where they are called.
     */
    private static final MethodHandle PAD = NativeLibrary.get().map(l -> l.pad).orElse(null);
    private static final MethodHandle PAD_CRITICAL = NativeLibrary.get().map(l -> l.padCritical).orElse(null);
    private static final MethodHandle STACK = NativeLibrary.get().map(l -> l.stack).orElse(null);
    private static final MethodHandle PACK = NativeLibrary.get().map(l -> l.pack).orElse(null);

    private final int threads;
    private final Arena scratchArena = Arena.ofShared();
    private MemorySegment indexScratch = MemorySegment.NULL;
    private MemorySegment pairScratch = MemorySegment.NULL;   // [start, end) pairs of a chunked store's batch
    private long[] pairRows = new long[0];
    private final MemorySegment padValue;
    private final MemorySegment error;
    // cb_pack's per-sequence tables (int64 first, keep, start) and its int32 max_seqlen, reused across batches
    private MemorySegment packFirst = MemorySegment.NULL;
    private MemorySegment packKeep = MemorySegment.NULL;
    private MemorySegment packStart = MemorySegment.NULL;
    private final MemorySegment packMax;
    private Padding padValueFor;
    private final SingleUser user = new SingleUser("native collator");

    /**
     * Batches of less output data than this are padded through {@link NativeLibrary#padCritical}, on the calling
     * thread (threads = 1): at 20 GB/s or less that holds a safepoint back for at most about 13 us. The thread
     * transitions it skips cost about 80 ns a call here, 8 % of a batch of 8 samples; above this size they are
     * under 0.5 %. libcubatch splits rows over threads only from 4 MiB (kBytesPerThread), so the split is the same.
     */
    public static final long CRITICAL_BYTES = 256 << 10;

    public NativeCollator(NativeLibrary lib) {
        java.util.Objects.requireNonNull(lib, "lib");
        this.threads = Runtime.getRuntime().availableProcessors();
        Arena fixed = scratchArena;
        this.padValue = fixed.allocate(8, 8);
        this.error = fixed.allocate(8, 8);
        this.packMax = fixed.allocate(8, 8);
    }

    @Override
    public String name() {
        return "native";
    }

    /** int64 [2B]: {@code start, start + length} of each sample of the batch, in {@code pairScratch}. */
    private MemorySegment chunkPairs(SampleStore store, long[] indices) {
        long bytes = 16L * indices.length;
        if (pairScratch.byteSize() < bytes) {
            pairScratch = scratchArena.allocate(Math.max(bytes, 2 * pairScratch.byteSize()), 8);
        }
        for (int b = 0; b < indices.length; b++) {
            long start = store.offset(indices[b]);
            pairScratch.setAtIndex(ValueLayout.JAVA_LONG, 2L * b, start);
            pairScratch.setAtIndex(ValueLayout.JAVA_LONG, 2L * b + 1, start + store.length(indices[b]));
        }
        return pairScratch;
    }

    /** 0, 2, 4, ...: row b reads pair b of {@link #chunkPairs}. */
    private long[] pairIndices(int n) {
        if (pairRows.length != n) {
            pairRows = new long[n];
            for (int b = 0; b < n; b++) {
                pairRows[b] = 2L * b;
            }
        }
        return pairRows;
    }

    private MemorySegment indices(long[] indices) {
        long bytes = 8L * indices.length;
        if (indexScratch.byteSize() < bytes) {
            // the scratch arena also holds padValue and error; a bigger index area gets its own allocation
            indexScratch = scratchArena.allocate(Math.max(bytes, 2 * indexScratch.byteSize()), 8);
        }
        MemorySegment.copy(indices, 0, indexScratch, ValueLayout.JAVA_LONG, 0, indices.length);
        return indexScratch;
    }

    private static void requireNative(String what, MemorySegment s) {
        if (!s.isNative() && !s.equals(MemorySegment.NULL)) {
            throw new IllegalArgumentException(what + " is on the Java heap; the native backend needs native or"
                    + " mapped memory (use the java backend, or copy it into an Arena)");
        }
    }

    @Override
    public void pad(SampleStore store, long[] indices, Padding padding, PaddedBatch out) {
        user.enter();
        try {
            padEntered(store, indices, padding, out);
        } finally {
            user.exit();
        }
    }

    private void padEntered(SampleStore store, long[] indices, Padding padding, PaddedBatch out) {
        PaddedShape shape = Collation.checkOutput(store, indices, padding, out);
        if (padding != padValueFor) {
            Collation.padValue(padding, padValue);
            padValueFor = padding;
        }
        MemorySegment values = store.values();
        MemorySegment offsets = store.offsetsSegment();   // NULL for a fixed store; no Optional per batch
        long[] rows = indices;
        if (!store.isContiguous()) {
            // a chunked store (Arrow record batches): its offsets are no positions in values, so the kernel gets
            // [start, end) pairs of this batch's samples, and row b reads pair b
            offsets = chunkPairs(store, indices);
            rows = pairIndices(indices.length);
        }
        requireNative("the store's values", values);
        requireNative("the store's offsets", offsets);
        requireNative("the output data", out.data());
        requireNative("the output lengths", out.lengths());
        requireNative("the output mask", out.attentionMask());
        long fixedLen = KernelCodes.fixedLength(store);
        int padSide = KernelCodes.padSide(padding);
        int truncSide = KernelCodes.truncationSide(padding);
        MemorySegment positions = shape.positions() ? out.positions() : MemorySegment.NULL;
        MemorySegment indexSegment = indices(rows);
        int status;
        try {
            if (shape.dataBytes() < CRITICAL_BYTES) {
                status = (int) PAD_CRITICAL.invokeExact(values, store.dtype().ordinal(), offsets, fixedLen,
                        store.features(), indexSegment.address(), (long) indices.length, shape.length(), shape.limit(),
                        padSide, truncSide, shape.dtype().ordinal(), padValue.address(), out.data(), out.lengths(),
                        out.attentionMask(), positions, 1, error.address());
            } else {
                status = (int) PAD.invokeExact(values, store.dtype().ordinal(), offsets, fixedLen, store.features(),
                        indexSegment.address(), (long) indices.length, shape.length(), shape.limit(), padSide,
                        truncSide, shape.dtype().ordinal(), padValue.address(), out.data(), out.lengths(),
                        out.attentionMask(), positions, threads, error.address());
            }
        } catch (Throwable t) {
            throw new IllegalStateException("cb_pad downcall failed: " + t, t);
        }
        if (status != 0) {   // the capturing lambda only on a failure: a batch allocates nothing
            check(status, () -> Collation.valueDoesNotFit(store, indices, padding, shape,
                    error.get(ValueLayout.JAVA_LONG, 0)));
        }
    }

    @Override
    public void stack(SampleStore store, long[] indices, DType dtype, MemorySegment out) {
        user.enter();
        try {
            stackEntered(store, indices, dtype, out);
        } finally {
            user.exit();
        }
    }

    private void stackEntered(SampleStore store, long[] indices, DType dtype, MemorySegment out) {
        long rowElems = Collation.checkStack(store, indices, dtype, out);
        requireNative("the store's values", store.values());
        requireNative("the output", out);
        int status;
        try {
            MemorySegment values = store.values();
            MemorySegment indexSegment = indices(indices);
            status = (int) STACK.invokeExact(values, store.dtype().ordinal(), rowElems, indexSegment.address(),
                    (long) indices.length, dtype.ordinal(), out, threads, error.address());
        } catch (Throwable t) {
            throw new IllegalStateException("cb_stack downcall failed: " + t, t);
        }
        if (status != 0) {
            check(status, () -> Collation.stackValueDoesNotFit(store, indices, dtype, rowElems,
                    error.get(ValueLayout.JAVA_LONG, 0)));
        }
    }

    /**
     * Packs through libcubatch's cb_pack, the CPU twin of cb_pack_kernel (the same cuda/cb_pack.cuh element
     * functions), into a host slot, as {@link PackLayout} places the sequences.
     */
    @Override
    public FilledBatch fillPacked(BatchSlot slot, SampleStore store, long[] indices, Padding padding) {
        user.enter();
        try {
            return packEntered(slot, store, indices, padding);
        } finally {
            user.exit();
        }
    }

    private FilledBatch packEntered(BatchSlot slot, SampleStore store, long[] indices, Padding padding) {
        if (!(slot instanceof HostSlot h)) {
            throw new IllegalArgumentException("the native backend packs into host slots, not " + slot.getClass().getName());
        }
        FilledBatch f = h.placePacked(store, indices, padding);
        requireNative("the store's values", store.values());
        FilledBatch.Packing packing = f.packing().orElseThrow();
        PackLayout layout = packing.layout();
        PaddedShape shape = layout.shape();
        PaddedBatch view = f.host().orElseThrow();
        int seqs = layout.sequences();
        growPackTables(seqs);
        for (int k = 0; k < seqs; k++) {
            packFirst.setAtIndex(ValueLayout.JAVA_LONG, k, layout.first(k));
            packKeep.setAtIndex(ValueLayout.JAVA_LONG, k, layout.keep(k));
            packStart.setAtIndex(ValueLayout.JAVA_LONG, k, layout.start(k));
        }
        MemorySegment positions = shape.positions() ? view.positions() : MemorySegment.NULL;
        int status;
        try {
            status = (int) PACK.invokeExact(store.values(), store.dtype().ordinal(), layout.features(),
                    packFirst.address(), packKeep.address(), packStart.address(), (long) seqs, (long) layout.rows(),
                    layout.maxlen(), padding.dtype().ordinal(), h.padValue(), view.data(), view.attentionMask(), positions,
                    view.lengths(), packing.hostCuSeqlens().orElseThrow(), packMax.address(), error.address());
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cb_pack downcall failed: " + t, t);
        }
        if (status != 0) {   // the capturing lambda only on a failure: a batch allocates nothing
            check(status, () -> layout.valueDoesNotFit(store, indices, padding, error.get(ValueLayout.JAVA_LONG, 0)));
        }
        return f;
    }

    /**
     * Room for {@code seqs} sequences in cb_pack's int64 tables (first, keep, start), in the scratch arena, grown
     * by doubling as {@link #indices(long[])} is: the arena frees every generation at {@link #close()}, and the
     * doubling bounds them to twice the largest.
     */
    private void growPackTables(int seqs) {
        long bytes = 8L * Math.max(1, seqs);
        if (packFirst.byteSize() < bytes) {
            long n = Math.max(bytes, 2 * packFirst.byteSize());
            packFirst = scratchArena.allocate(n, 8);
            packKeep = scratchArena.allocate(n, 8);
            packStart = scratchArena.allocate(n, 8);
        }
    }

    private static void check(int status, java.util.function.Supplier<RuntimeException> valueError) {
        switch (status) {
            case 0 -> {
            }
            case 1 -> throw valueError.get();
            default -> throw new IllegalStateException("libcubatch returned status " + status
                    + " for arguments Java had validated: this is a bug, please report it");
        }
    }

    /** Whether the collator's own native memory is still allocated (false once closed): for leak checks. */
    boolean scratchAlive() {
        return scratchArena.scope().isAlive();
    }

    /** Frees the scratch area; during a pad or stack on another thread, waits for it first. Idempotent. */
    @Override
    public void close() {
        user.close(scratchArena::close);
    }
}
