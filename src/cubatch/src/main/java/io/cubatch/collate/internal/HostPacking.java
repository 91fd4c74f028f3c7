package io.cubatch.collate.internal;

import io.cubatch.collate.FilledBatch;
import io.cubatch.collate.HostSlot;
import io.cubatch.collate.PackLayout;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Packing in Java, into a {@link HostSlot}: the reference for cb_pack.cuh (the same layout, the same bytes).
 * Data and mask row by row; lengths, cu_seqlens and max_seqlen per sequence in packed order.
 */
public final class HostPacking {
    private HostPacking() {
    }

    /**
     * Writes the tensors of {@code batch}, which {@link HostSlot#placePacked} made for {@code indices} in
     * {@code slot}: as its layout places them, into its host views (lengths holds S entries) and cu_seqlens.
     */
    public static void pack(SampleStore store, long[] indices, Padding padding, FilledBatch batch, HostSlot slot) {
        FilledBatch.Packing packing = batch.packing().orElseThrow();
        PackLayout layout = packing.layout();
        PaddedShape shape = layout.shape();
        int s = layout.sequences();
        PaddedBatch view = batch.host().orElseThrow();
        DType src = store.dtype();
        DType dst = padding.dtype();
        int size = dst.byteSize();
        long f = layout.features();
        long cells = (long) layout.rows() * layout.maxlen();
        // padding first, then each sequence over it
        MemorySegment pad = slot.padValue();
        boolean zero = true;
        for (int i = 0; i < size; i++) {
            zero &= pad.get(ValueLayout.JAVA_BYTE, i) == 0;
        }
        if (zero || size == 1) {   // one bulk fill, as cb_pack's gaps write it (the same bytes)
            view.data().fill(pad.get(ValueLayout.JAVA_BYTE, 0));   // the view holds exactly the rows' cells
        } else {
            for (long e = 0; e < cells * f; e++) {
                MemorySegment.copy(pad, 0, view.data(), e * size, size);
            }
        }
        view.attentionMask().fill((byte) 0);
        if (shape.positions()) {
            view.positions().fill((byte) 0);
        }
        MemorySegment cu = packing.hostCuSeqlens().orElseThrow();
        cu.setAtIndex(ValueLayout.JAVA_INT, 0, 0);
        long total = 0;
        for (int k = 0; k < s; k++) {
            long keep = layout.keep(k);
            long at = layout.start(k);
            long o = at * f;
            if (Conversions.isBitCopy(src, dst)) {
                MemorySegment.copy(store.values(), layout.first(k) * f * size, view.data(), o * size, keep * f * size);
            } else {
                long bad = Conversions.convertRun(store.values(), src, layout.first(k) * f, view.data(), dst, o, keep * f);
                if (bad >= 0) {
                    throw layout.valueDoesNotFit(store, indices, padding, bad);
                }
            }
            if (keep <= slot.ones().byteSize()) {   // no slice per sequence
                MemorySegment.copy(slot.ones(), 0, view.attentionMask(), at, keep);
            } else {   // rows longer than the slot's (its buffers hold fewer, longer rows): not a loader's slot
                view.attentionMask().asSlice(at, keep).fill((byte) 1);
            }
            if (shape.positions()) {
                for (long t = 0; t < keep; t++) {
                    view.positions().setAtIndex(ValueLayout.JAVA_INT, at + t, (int) t);
                }
            }
            view.lengths().setAtIndex(ValueLayout.JAVA_INT, k, (int) keep);
            total += keep;
            cu.setAtIndex(ValueLayout.JAVA_INT, k + 1, (int) total);
        }
    }
}
