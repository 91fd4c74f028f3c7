package io.cubatch.loader;

import io.cubatch.collate.CollateException;
import io.cubatch.collate.Collation;
import io.cubatch.collate.PadSide;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import io.cubatch.collate.internal.Conversions;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Sequence packing: a batch's sequences (truncated to {@code maxlen} when the padding allows) go first-fit,
 * in batch order, into rows of {@code maxlen} timesteps; no sequence crosses a row, padding sits only at
 * row ends, positions restart at 0 for each sequence, and cu_seqlens are the cumulative real-token
 * offsets of the sequences in packed order (row by row).
 */
final class Packing {
    private Packing() {
    }

    /** The result of packing one batch. */
    record Packed(PaddedBatch view, int rows, long realTokens) {
    }

    /**
     * Packs {@code indices} into {@code slot} (capacity for B rows of maxlen) and {@code cuSeqlens}
     * (int32, B + 1). {@code padding} must have a maxlen.
     */
    static Packed pack(SampleStore store, long[] indices, Padding padding, PaddedBatch slot, MemorySegment cuSeqlens,
                       MemorySegment padValue) {
        long maxlen = padding.maxlen().orElseThrow(() -> new IllegalArgumentException(
                "packing needs a fixed maxlen: the row length"));
        PaddedShape full = Collation.shape(store, indices, padding);   // validates indices and lengths
        int b = indices.length;
        long[] keep = new long[b];
        long[] first = new long[b];
        int[] rowOf = new int[b];
        long[] fill = new long[b];
        int rows = 0;
        for (int k = 0; k < b; k++) {
            long n = store.length(indices[k]);
            keep[k] = Math.min(n, maxlen);
            long skip = n > maxlen && padding.truncation().orElseThrow() == PadSide.PRE ? n - maxlen : 0;
            first[k] = store.offset(indices[k]) + skip;
            int r = 0;
            while (r < rows && fill[r] + keep[k] > maxlen) {
                r++;
            }
            if (r == rows) {
                rows++;
            }
            rowOf[k] = r;
            fill[r] += keep[k];
        }
        long kept = java.util.Arrays.stream(keep).sum();
        if (kept > Integer.MAX_VALUE) {
            throw new CollateException("a packed batch of " + b + " sequences holds " + kept + " real timesteps, more"
                    + " than 2147483647, the largest offset int32 cu_seqlens can hold: pack fewer sequences per batch"
                    + " or lower maxlen");
        }
        PaddedShape shape = new PaddedShape(rows, maxlen, full.features(), maxlen, padding.dtype(), padding.positions());
        // lengths holds one entry per sequence (B), not per row: the view keeps the slot's full lengths buffer
        PaddedBatch rowsView = slot.withShape(shape);
        PaddedBatch view = new PaddedBatch(shape, rowsView.data(), slot.lengths().asSlice(0, 4L * b),
                rowsView.attentionMask(), rowsView.positions());
        DType src = store.dtype();
        DType dst = padding.dtype();
        int size = dst.byteSize();
        long f = full.features();
        long total = 0;
        int seq = 0;
        cuSeqlens.setAtIndex(ValueLayout.JAVA_INT, 0, 0);
        for (int r = 0; r < rows; r++) {
            long col = 0;
            long rowBase = (long) r * maxlen;
            for (int k = 0; k < b; k++) {
                if (rowOf[k] != r) {
                    continue;
                }
                long o = (rowBase + col) * f;
                if (Conversions.isBitCopy(src, dst)) {
                    MemorySegment.copy(store.values(), first[k] * f * size, view.data(), o * size, keep[k] * f * size);
                } else {
                    for (long e = 0; e < keep[k] * f; e++) {
                        if (!Conversions.convert(store.values(), src, first[k] * f + e, view.data(), dst, o + e)) {
                            throw new CollateException("sample " + indices[k] + " (batch row " + k + "): value "
                                    + Conversions.describe(store.values(), src, first[k] * f + e) + " does not fit "
                                    + dst.cliName() + ": choose a wider dtype, or fix the data");
                        }
                    }
                }
                view.attentionMask().asSlice(rowBase + col, keep[k]).fill((byte) 1);
                if (shape.positions()) {
                    for (long t = 0; t < keep[k]; t++) {
                        view.positions().setAtIndex(ValueLayout.JAVA_INT, rowBase + col + t, (int) t);
                    }
                }
                view.lengths().setAtIndex(ValueLayout.JAVA_INT, seq, (int) keep[k]);
                total += keep[k];
                seq++;
                cuSeqlens.setAtIndex(ValueLayout.JAVA_INT, seq, (int) total);
                col += keep[k];
            }
            for (long t = col; t < maxlen; t++) {
                for (long e = 0; e < f; e++) {
                    MemorySegment.copy(padValue, 0, view.data(), ((rowBase + t) * f + e) * size, size);
                }
                view.attentionMask().set(ValueLayout.JAVA_BYTE, rowBase + t, (byte) 0);
                if (shape.positions()) {
                    view.positions().setAtIndex(ValueLayout.JAVA_INT, rowBase + t, 0);
                }
            }
        }
        return new Packed(view, rows, total);
    }
}
