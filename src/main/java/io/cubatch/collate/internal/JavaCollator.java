package io.cubatch.collate.internal;

import io.cubatch.collate.Collation;
import io.cubatch.collate.Collator;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The {@code java} backend: pure Java over {@link MemorySegment}s, the same row algorithm as
 * {@code cb_pad_row} in {@code cuda/cb_pad.cuh} (bulk copies for same-dtype data, checked conversion
 * otherwise). Runs anywhere; the oracle the other backends are compared with. Allocates nothing per
 * batch once warm.
 */
public final class JavaCollator implements Collator {
    private final MemorySegment padValue = MemorySegment.ofArray(new long[1]);
    private Padding padValueFor;
    /** The pad value repeated, zeros and ones: sources for bulk copies, grown to the longest row seen, so
     *  that padding and masks are written without allocating a slice per row. */
    private MemorySegment padRow = MemorySegment.ofArray(new byte[0]);
    private MemorySegment zeros = MemorySegment.ofArray(new byte[0]);
    private MemorySegment ones = MemorySegment.ofArray(new byte[0]);

    @Override
    public String name() {
        return "java";
    }

    @Override
    public void pad(SampleStore store, long[] indices, Padding padding, PaddedBatch out) {
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
        for (int b = 0; b < indices.length; b++) {
            // Collation.geometry, as primitives: this loop runs per batch and must not allocate
            long n = store.length(indices[b]);
            long keep = Collation.keep(n, shape.limit());
            long first = store.offset(indices[b]) + Collation.skip(n, shape.limit(), padding);
            long start = Collation.start(keep, l, padding);
            long rowStart = b * rowBytes;
            MemorySegment.copy(padRow, 0, out.data(), rowStart, start * f * size);
            long end = start + keep;
            MemorySegment.copy(padRow, 0, out.data(), rowStart + end * f * size, (l - end) * f * size);
            if (src == dst) {
                MemorySegment.copy(values, first * f * size, out.data(), rowStart + start * f * size, keep * f * size);
            } else {
                long o = (b * l + start) * f;
                long s = first * f;
                for (long e = 0; e < keep * f; e++) {
                    if (!Conversions.convert(values, src, s + e, out.data(), dst, o + e)) {
                        throw Collation.valueDoesNotFit(store, indices, padding, shape, o + e);
                    }
                }
            }
            out.lengths().setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, b, (int) keep);
            long maskRow = b * l;
            MemorySegment.copy(zeros, 0, out.attentionMask(), maskRow, start);
            MemorySegment.copy(ones, 0, out.attentionMask(), maskRow + start, keep);
            MemorySegment.copy(zeros, 0, out.attentionMask(), maskRow + end, l - end);
            if (shape.positions()) {
                for (long t = 0; t < l; t++) {
                    boolean real = t >= start && t < end;
                    out.positions().setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, maskRow + t, real ? (int) (t - start) : 0);
                }
            }
        }
    }

    /** Rebuilds the bulk-copy sources for rows of {@code rowBytes} bytes and {@code length} timesteps. */
    private void growRows(long rowBytes, long length, int size) {
        long bytes = Math.max(rowBytes, padRow.byteSize());
        byte[] row = new byte[(int) Math.min(Integer.MAX_VALUE - 8, Math.max(bytes, 64))];
        for (int i = 0; i + size <= row.length; i += size) {
            MemorySegment.copy(padValue, ValueLayout.JAVA_BYTE, 0, row, i, size);
        }
        padRow = MemorySegment.ofArray(row);
        if (zeros.byteSize() < length) {
            zeros = MemorySegment.ofArray(new byte[(int) Math.max(length, 2 * zeros.byteSize())]);
            byte[] one = new byte[(int) zeros.byteSize()];
            java.util.Arrays.fill(one, (byte) 1);
            ones = MemorySegment.ofArray(one);
        }
    }

    @Override
    public void stack(SampleStore store, long[] indices, DType dtype, MemorySegment out) {
        long rowElems = Collation.checkStack(store, indices, dtype, out);
        DType src = store.dtype();
        MemorySegment values = store.values();
        for (int b = 0; b < indices.length; b++) {
            if (src == dtype) {
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
