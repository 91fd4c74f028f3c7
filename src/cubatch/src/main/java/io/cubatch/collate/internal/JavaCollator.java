package io.cubatch.collate.internal;

import io.cubatch.collate.Collation;
import io.cubatch.collate.BatchSlot;
import io.cubatch.collate.Collator;
import io.cubatch.collate.FilledBatch;
import io.cubatch.collate.SingleUser;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import io.cubatch.store.DType;
import io.cubatch.store.NativeMemory;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * The {@code java} backend: pure Java over {@link MemorySegment}s, the same row algorithm as
 * {@code cb_pad_row} in {@code cuda/cb_pad.cuh} (bulk copies for same-dtype data but bool, checked
 * conversion otherwise). Runs anywhere; the oracle the other backends are compared with. Allocates nothing per
 * batch once warm. A batch of 4 MB of output or more, where the machine has several processors and no segment
 * of the store or the output is confined to the calling thread, is split in two as libcubatch splits it: the
 * upper rows on the process's {@link RowWorker} (unless another collator's batch holds it), the lower ones on
 * the calling thread.
 * Owns a little off-heap memory (pad and mask rows), freed by {@link #close()}. One thread at a time
 * ({@link SingleUser}): a second thread calling in is refused, since the pad rows are shared; {@link #close()}
 * during a pad on another thread waits for it, then frees.
 */
public final class JavaCollator implements Collator {
    private final MemorySegment padValue = MemorySegment.ofArray(new long[1]);
    private Padding padValueFor;
    /**
     * The pad value repeated, zeros and ones: sources for bulk copies, grown to the longest row seen, so
     * that padding and masks are written without allocating a slice per row. Off-heap, owned by this
     * collator (freed by {@link #close()}): copies from heap arrays into native memory were 4x slower
     * than native-to-native ones for long rows (JMH, batch 1024).
     */
    private final Arena rows = Arena.ofShared();
    private MemorySegment padRow = MemorySegment.NULL;
    /**
     * n ones, n zeros, n ones (n at least the longest row seen): a row's whole mask is one copy of l bytes from
     * it, ones then zeros under POST padding, zeros then ones under PRE, since padding sits on one side only.
     */
    private MemorySegment masks = MemorySegment.NULL;
    private final SingleUser user = new SingleUser("java collator");
    /** Chunk arrays for converting copies, reused by every batch (this collator runs one pad at a time). */
    private final Conversions.Scratch scratch = new Conversions.Scratch();

    @Override
    public String name() {
        return "java";
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
        DType dst = shape.dtype();
        int size = dst.byteSize();
        long f = shape.features();
        long l = shape.length();
        long rowBytes = l * f * size;
        if (padding != padValueFor || padRow.byteSize() < rowBytes || masks.byteSize() < 3 * l) {
            Collation.padValue(padding, padValue);
            padValueFor = padding;
            growRows(rowBytes, l, size);
        }
        int batch = indices.length;
        long bad;
        if (PROCESSORS > 1 && batch > 1 && rowBytes * batch >= BYTES_PER_THREAD && sharable(store, out)
                && postUpperHalf(store, indices, padding, out, shape, batch)) {
            // a large batch: the upper half of the rows on the process's row worker, the lower half here
            long lower = -1;
            Throwable mine = null;
            try {
                lower = rows(store, indices, padding, out, shape, 0, batch / 2, scratch);
            } catch (Throwable e) {   // unchecked only: rethrown below, once the helper is done
                mine = e;
            }
            RowWorker.INSTANCE.await();   // never return while the helper still writes
            long upper = helper.bad;
            Throwable failed = helper.failure;
            helper.clear();
            if (mine != null && failed != null) {
                mine.addSuppressed(failed);
            }
            if (mine != null || failed != null) {   // this thread's exception first, else the helper's, as thrown
                throw unchecked(mine != null ? mine : failed);
            }
            bad = lower >= 0 ? lower : upper;   // the lowest failing row, as on one thread
        } else {
            bad = rows(store, indices, padding, out, shape, 0, batch, scratch);
        }
        if (bad >= 0) {
            throw Collation.valueDoesNotFit(store, indices, padding, shape, bad);
        }
    }

    /** {@code t} as it was thrown when unchecked (an Error is thrown from here), else wrapped. */
    private static RuntimeException unchecked(Throwable t) {
        if (t instanceof Error e) {
            throw e;
        }
        return t instanceof RuntimeException r ? r : new IllegalStateException(t);
    }

    /** A thread that never runs: a segment it may access is one any thread may (not of a confined arena). */
    private static final Thread ANOTHER_THREAD = new Thread(() -> { });

    /**
     * Whether another thread may read the store and write the output: not when a segment belongs to a confined
     * arena (its owner alone may touch it), nor for a chunked store, whose record batches are not checked here.
     */
    private static boolean sharable(SampleStore store, PaddedBatch out) {
        return store.isContiguous() && store.values().isAccessibleBy(ANOTHER_THREAD)
                && store.offsetsSegment().isAccessibleBy(ANOTHER_THREAD)   // NULL (fixed store): any thread's
                && out.data().isAccessibleBy(ANOTHER_THREAD) && out.lengths().isAccessibleBy(ANOTHER_THREAD)
                && out.attentionMask().isAccessibleBy(ANOTHER_THREAD)
                && (!out.shape().positions() || out.positions().isAccessibleBy(ANOTHER_THREAD));
    }

    /** Below this much output a batch is padded on one thread (libcubatch's kBytesPerThread). */
    private static final long BYTES_PER_THREAD = 4L << 20;
    private static final int PROCESSORS = Runtime.getRuntime().availableProcessors();

    /**
     * Posts rows {@code [batch / 2, batch)} to the {@link RowWorker}; false (nothing posted) when it is taken by
     * another caller or cannot start, and the calling thread then pads every row.
     */
    private boolean postUpperHalf(SampleStore store, long[] indices, Padding padding, PaddedBatch out,
                                  PaddedShape shape, int batch) {
        helper.set(store, indices, padding, out, shape, batch / 2, batch);
        if (RowWorker.INSTANCE.tryPost(helper)) {
            return true;
        }
        helper.clear();
        return false;
    }

    /**
     * The upper rows of a large batch, padded by the {@link RowWorker} while the calling thread pads the lower
     * ones: one job reused for every batch, with its own conversion scratch. The worker's volatile job numbers
     * order its writes before the caller's return.
     */
    private final class Helper implements RowWorker.Job {
        private final Conversions.Scratch helperScratch = new Conversions.Scratch();
        private SampleStore store;
        private long[] indices;
        private Padding padding;
        private PaddedBatch out;
        private PaddedShape shape;
        private int from;
        private int to;
        long bad;
        /** What the rows threw, kept as thrown, for the caller to rethrow. */
        Throwable failure;

        void set(SampleStore store, long[] indices, Padding padding, PaddedBatch out, PaddedShape shape, int from,
                 int to) {
            this.store = store;
            this.indices = indices;
            this.padding = padding;
            this.out = out;
            this.shape = shape;
            this.from = from;
            this.to = to;
            this.bad = -1;
            this.failure = null;
        }

        /** Drops the references to the batch, so that the collator holds none between calls. */
        void clear() {
            set(null, null, null, null, null, 0, 0);
        }

        @Override
        public void run() {
            try {
                bad = rows(store, indices, padding, out, shape, from, to, helperScratch);
            } catch (Throwable t) {
                failure = t;
            }
        }
    }

    private final Helper helper = new Helper();

    /**
     * Pads rows {@code [from, to)} of the batch (pad runs, real timesteps, mask, length, positions); returns -1,
     * or the flat output index of the first element of these rows whose value does not fit (the rows after it
     * are then not written). Reads only what {@link #padEntered} prepared, so two threads may run it on
     * disjoint row ranges, each with its own scratch.
     */
    private long rows(SampleStore store, long[] indices, Padding padding, PaddedBatch out, PaddedShape shape, int from,
                      int to, Conversions.Scratch scratch) {
        DType dst = shape.dtype();
        int size = dst.byteSize();
        long f = shape.features();
        long l = shape.length();
        long rowBytes = l * f * size;
        DType src = store.dtype();
        MemorySegment values = store.values();
        MemorySegment data = out.data();
        MemorySegment mask = out.attentionMask();
        MemorySegment lengths = out.lengths();
        MemorySegment padRow = this.padRow;
        MemorySegment masks = this.masks;
        long third = masks.byteSize() / 3;   // the length of each of its runs
        boolean bitCopy = Conversions.isBitCopy(src, dst);
        long step = f * size;   // bytes per timestep
        // one load of each row's first token TOUCH_AHEAD rows before its copy (libcubatch's touch_rows loads every
        // row's first): when the tokens come from DRAM, the rows' first misses are then in flight together instead
        // of one after another behind the previous row's copy. All of them up front, in a pass of their own, cost
        // 6-13 % in full epochs over a corpus in the L3; 8 ahead, in the copy loop, measured 8.7 against 9.8 ms
        // an epoch and 2.37e4 against 2.21e4 batches/s at streaming 64 (4 forks each, alternating). Nothing of
        // the geometry is kept between loads and copies: keeping it in scratch arrays made C2 hoist profiled
        // checks out of the copy loop that then failed again and again (uncommon traps, reason
        // profile_predicate, each a recompilation), which cost a third to a half of batch 256
        long srcStep = f * src.byteSize();
        // the loads ahead read a contiguous ragged store's offsets directly (store.length and store.offset check
        // the index and the store's volatile closed flag on every call). The indices were checked by
        // Collation.checkOutput and are checked again here, one compare a row, since the caller's array may have
        // changed since (an index past 2^60 would wrap i * 8); the segment checks its bounds and its arena's
        // liveness. The geometry below still goes through store.offset and store.length: read directly there too
        // (00f983c), the copy loop had no volatile read left, C2 hoisted profiled checks out of it that failed
        // (uncommon traps at its head, reason profile_predicate), and batch 64 and 256 ran 5x slower (1.1e4
        // against 5.5e4 batches/s at steady 64), though batch 8 gained 18 % from it (JMH run-cpu.sh caught this)
        MemorySegment offs = store.isRagged() && store.isContiguous() ? store.offsetsSegment() : null;
        long samples = store.size();
        long touched = 0;
        int upFront = (int) Math.min(to, (long) from + TOUCH_AHEAD);
        for (int b = from; b < upFront; b++) {
            touched += touch(store, offs, values, Objects.checkIndex(indices[b], samples), srcStep);
        }
        long limit = shape.limit();
        for (int b = from; b < to; b++) {
            // every row, clamped to the last (the last 8 rows load it again, from the cache): no array access under
            // a branch whose profile C2 could hoist a range check from
            int ahead = (int) Math.min((long) b + TOUCH_AHEAD, to - 1);
            touched += touch(store, offs, values, Objects.checkIndex(indices[ahead], samples), srcStep);
            // Collation.geometry, as primitives: this loop runs per batch and must not allocate
            long i = Objects.checkIndex(indices[b], samples);
            long begin = store.offset(i);
            long n = store.length(i);
            long keep = Collation.keep(n, limit);
            long first = begin + Collation.skip(n, limit, padding);
            long start = Collation.start(keep, l, padding);
            long end = start + keep;
            long rowStart = b * rowBytes;
            long maskRow = b * l;
            // in address order, as cb_pad_row writes (the pad run before the tokens, the tokens, the pad run after
            // them, then the mask), and each pad run only when it is not empty: a copy's checks cost about as much
            // as a short row's bytes, and one of the two pad runs is always empty
            if (start > 0) {
                MemorySegment.copy(padRow, 0, data, rowStart, start * step);
            }
            if (keep > 0) {
                if (bitCopy) {
                    MemorySegment.copy(values, first * step, data, rowStart + start * step, keep * step);
                } else {
                    long bad = Conversions.convertRun(values, src, first * f, data, dst, (b * l + start) * f, keep * f,
                            scratch);
                    if (bad >= 0) {
                        return bad;
                    }
                }
            }
            if (end < l) {
                MemorySegment.copy(padRow, 0, data, rowStart + end * step, (l - end) * step);
            }
            // the whole mask row in one copy: ones then zeros (POST), or zeros then ones (PRE), cut from masks
            MemorySegment.copy(masks, start == 0 ? third - keep : 2 * third - start, mask, maskRow, l);
            lengths.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, b, (int) keep);
            if (shape.positions()) {
                for (long t = 0; t < l; t++) {
                    boolean real = t >= start && t < end;
                    out.positions().setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, maskRow + t, real ? (int) (t - start) : 0);
                }
            }
        }
        scratch.sink = touched;
        return -1;
    }

    /** How many rows ahead of its copy {@link #rows} loads a row's first token. */
    static final int TOUCH_AHEAD = 8;

    /** The store's offsets' layout (SampleStore's): int64, unaligned in a mapped file. */
    private static final ValueLayout.OfLong OFFSET = ValueLayout.JAVA_LONG_UNALIGNED;

    /**
     * The first byte of sample {@code at}'s tokens, or 0 for an empty sample (which has none to load); from
     * {@code offs}, the offsets of a contiguous ragged store, when not null.
     */
    private static long touch(SampleStore store, MemorySegment offs, MemorySegment values, long at, long srcStep) {
        if (offs != null) {
            long begin = offs.get(OFFSET, at * 8);
            return offs.get(OFFSET, at * 8 + 8) > begin ? values.get(ValueLayout.JAVA_BYTE, begin * srcStep) : 0;
        }
        return store.length(at) > 0 ? values.get(ValueLayout.JAVA_BYTE, store.offset(at) * srcStep) : 0;
    }

    /**
     * Rebuilds the bulk-copy sources for rows of {@code rowBytes} bytes and {@code length} timesteps. Growth
     * at least doubles, so what the arena holds stays within twice the longest row.
     */
    private void growRows(long rowBytes, long length, int size) {
        long bytes = Math.max(64, rowBytes > padRow.byteSize() ? Math.max(rowBytes, 2 * padRow.byteSize()) : padRow.byteSize());
        long n = masks.byteSize() / 3;
        long maskBytes = n < length ? 3 * Math.max(length, 2 * n) : 0;
        NativeMemory.require((bytes > padRow.byteSize() ? bytes : 0) + maskBytes, () -> "the java backend's copy sources"
                + " for rows of " + length + " timesteps (" + rowBytes + " bytes of pad values, and ones, zeros and ones"
                + " of " + length + " bytes each for the mask)", "lower maxlen, or use the native backend, which needs none");
        if (bytes > padRow.byteSize()) {
            padRow = rows.allocate(bytes, 64);   // a cache line: see the note on the copy sources
        }
        for (long i = 0; i + size <= padRow.byteSize(); i += size) {
            MemorySegment.copy(padValue, 0, padRow, i, size);
        }
        if (maskBytes > 0) {
            masks = rows.allocate(maskBytes, 64);   // Arena memory starts zeroed
            long third = maskBytes / 3;
            masks.asSlice(0, third).fill((byte) 1);
            masks.asSlice(2 * third, third).fill((byte) 1);
        }
    }

    /** Frees the pad rows; during a pad or stack on another thread, waits for it first. Idempotent. */
    @Override
    public void close() {
        user.close(rows::close);
    }

    /**
     * {@link Collator#fillPacked}'s host packing, as the one user of this collator: like every other call, it is
     * refused on a closed collator, or while another thread is inside.
     */
    @Override
    public FilledBatch fillPacked(BatchSlot slot, SampleStore store, long[] indices, Padding padding) {
        user.enter();
        try {
            return Collator.super.fillPacked(slot, store, indices, padding);
        } finally {
            user.exit();
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
        DType src = store.dtype();
        MemorySegment values = store.values();
        for (int b = 0; b < indices.length; b++) {
            if (Conversions.isBitCopy(src, dtype)) {
                long rowBytes = rowElems * dtype.byteSize();
                MemorySegment.copy(values, indices[b] * rowBytes, out, b * rowBytes, rowBytes);
                continue;
            }
            for (long i = 0; i < rowElems; i++) {
                long e = b * rowElems + i;
                if (!Conversions.convert(values, src, indices[b] * rowElems + i, out, dtype, e)) {
                    throw Collation.stackValueDoesNotFit(store, indices, dtype, rowElems, e);
                }
            }
        }
    }
}
