package io.cubatch.collate.internal;

import io.cubatch.collate.Collation;
import io.cubatch.collate.Collator;
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

/**
 * The {@code java} backend: pure Java over {@link MemorySegment}s, the same row algorithm as
 * {@code cb_pad_row} in {@code cuda/cb_pad.cuh} (bulk copies for same-dtype data but bool, checked
 * conversion otherwise). Runs anywhere; the oracle the other backends are compared with. Allocates nothing per
 * batch once warm. Owns a little off-heap memory (pad and mask rows), freed by {@link #close()}. One
 * thread at a time ({@link SingleUser}): a second thread calling in is refused, since the pad rows are
 * shared; {@link #close()} during a pad on another thread waits for it, then frees.
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
    private MemorySegment zeros = MemorySegment.NULL;
    private MemorySegment ones = MemorySegment.NULL;
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
        if (padding != padValueFor || padRow.byteSize() < rowBytes || zeros.byteSize() < l) {
            Collation.padValue(padding, padValue);
            padValueFor = padding;
            growRows(rowBytes, l, size);
        }
        DType src = store.dtype();
        MemorySegment values = store.values();
        MemorySegment data = out.data();
        MemorySegment mask = out.attentionMask();
        MemorySegment lengths = out.lengths();
        boolean bitCopy = Conversions.isBitCopy(src, dst);
        long step = f * size;   // bytes per timestep
        for (int b = 0; b < indices.length; b++) {
            // Collation.geometry, as primitives: this loop runs per batch and must not allocate
            long n = store.length(indices[b]);
            long keep = Collation.keep(n, shape.limit());
            long first = store.offset(indices[b]) + Collation.skip(n, shape.limit(), padding);
            long start = Collation.start(keep, l, padding);
            long end = start + keep;
            long rowStart = b * rowBytes;
            long maskRow = b * l;
            // each run only when it is not empty: a copy's checks cost about as much as a short row's bytes, and
            // one of the two pad runs is always empty
            if (start > 0) {
                MemorySegment.copy(padRow, 0, data, rowStart, start * step);
                MemorySegment.copy(zeros, 0, mask, maskRow, start);
            }
            if (end < l) {
                MemorySegment.copy(padRow, 0, data, rowStart + end * step, (l - end) * step);
                MemorySegment.copy(zeros, 0, mask, maskRow + end, l - end);
            }
            if (keep > 0) {
                if (bitCopy) {
                    MemorySegment.copy(values, first * step, data, rowStart + start * step, keep * step);
                } else {
                    long bad = Conversions.convertRun(values, src, first * f, data, dst, (b * l + start) * f, keep * f,
                            scratch);
                    if (bad >= 0) {
                        throw Collation.valueDoesNotFit(store, indices, padding, shape, bad);
                    }
                }
                MemorySegment.copy(ones, 0, mask, maskRow + start, keep);
            }
            lengths.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, b, (int) keep);
            if (shape.positions()) {
                for (long t = 0; t < l; t++) {
                    boolean real = t >= start && t < end;
                    out.positions().setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, maskRow + t, real ? (int) (t - start) : 0);
                }
            }
        }
    }

    /**
     * Rebuilds the bulk-copy sources for rows of {@code rowBytes} bytes and {@code length} timesteps. Growth
     * at least doubles, so what the arena holds stays within twice the longest row.
     */
    private void growRows(long rowBytes, long length, int size) {
        long bytes = Math.max(64, rowBytes > padRow.byteSize() ? Math.max(rowBytes, 2 * padRow.byteSize()) : padRow.byteSize());
        long masks = zeros.byteSize() < length ? 2 * Math.max(length, 2 * zeros.byteSize()) : 0;
        NativeMemory.require((bytes > padRow.byteSize() ? bytes : 0) + masks, () -> "the java backend's copy sources"
                + " for rows of " + length + " timesteps (" + rowBytes + " bytes of pad values, a row of zeros and"
                + " one of ones)", "lower maxlen, or use the native backend, which needs none");
        if (bytes > padRow.byteSize()) {
            padRow = rows.allocate(bytes, 16);
        }
        for (long i = 0; i + size <= padRow.byteSize(); i += size) {
            MemorySegment.copy(padValue, 0, padRow, i, size);
        }
        if (zeros.byteSize() < length) {
            long n = Math.max(length, 2 * zeros.byteSize());
            zeros = rows.allocate(n, 16);   // Arena memory starts zeroed
            ones = rows.allocate(n, 16);
            ones.fill((byte) 1);
        }
    }

    /** Frees the pad rows; during a pad or stack on another thread, waits for it first. Idempotent. */
    @Override
    public void close() {
        user.close(rows::close);
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
