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

    @Override
    public String name() {
        return "java";
    }

    @Override
    public void pad(SampleStore store, long[] indices, Padding padding, PaddedBatch out) {
        PaddedShape shape = Collation.checkOutput(store, indices, padding, out);
        if (padding != padValueFor) {
            Collation.padValue(padding, padValue);
            padValueFor = padding;
        }
        DType src = store.dtype();
        DType dst = shape.dtype();
        int size = dst.byteSize();
        long f = shape.features();
        long l = shape.length();
        long rowBytes = l * f * size;
        MemorySegment values = store.values();
        boolean zeroPad = isZero(padValue, size);
        for (int b = 0; b < indices.length; b++) {
            Collation.Geometry g = Collation.geometry(store, indices[b], padding, shape);
            long rowStart = b * rowBytes;
            fillPad(out.data(), rowStart, g.start() * f, size, zeroPad);
            long end = g.start() + g.keep();
            fillPad(out.data(), rowStart + end * f * size, (l - end) * f, size, zeroPad);
            if (src == dst) {
                MemorySegment.copy(values, g.first() * f * size, out.data(), rowStart + g.start() * f * size,
                        g.keep() * f * size);
            } else {
                long o = (b * l + g.start()) * f;
                long s = g.first() * f;
                for (long e = 0; e < g.keep() * f; e++) {
                    if (!Conversions.convert(values, src, s + e, out.data(), dst, o + e)) {
                        throw Collation.valueDoesNotFit(store, indices, padding, shape, o + e);
                    }
                }
            }
            out.lengths().setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, b, (int) g.keep());
            long maskRow = b * l;
            out.attentionMask().asSlice(maskRow, l).fill((byte) 0);
            out.attentionMask().asSlice(maskRow + g.start(), g.keep()).fill((byte) 1);
            if (shape.positions()) {
                for (long t = 0; t < l; t++) {
                    boolean real = t >= g.start() && t < end;
                    out.positions().setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, maskRow + t, real ? (int) (t - g.start()) : 0);
                }
            }
        }
    }

    private void fillPad(MemorySegment data, long byteOffset, long elements, int size, boolean zero) {
        if (elements <= 0) {
            return;
        }
        if (zero || size == 1) {
            data.asSlice(byteOffset, elements * size).fill(padValue.get(ValueLayout.JAVA_BYTE, 0));
            return;
        }
        for (long e = 0; e < elements; e++) {
            MemorySegment.copy(padValue, 0, data, byteOffset + e * size, size);
        }
    }

    private static boolean isZero(MemorySegment value, int size) {
        for (int i = 0; i < size; i++) {
            if (value.get(ValueLayout.JAVA_BYTE, i) != 0) {
                return false;
            }
        }
        return true;
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
