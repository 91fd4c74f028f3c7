package io.cubatch.cuda;

import io.cubatch.collate.Collation;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import io.cubatch.store.SampleStore;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * What crosses PCIe for one padded batch: only the batch's real tokens, already truncated, and their
 * offsets. Layout, little-endian, no gaps:
 * <pre>
 *   [0, 8(B+1))               int64 offsets: row b's kept timesteps are [offsets[b], offsets[b+1])
 *   [8(B+1), 8(B+1) + bytes)  the kept timesteps of rows 0..B-1, back to back, in the store's dtype
 * </pre>
 * The token area starts 8-byte aligned, which every dtype needs. On the device the pad kernel reads it
 * with {@code indices = NULL} (row b is sample b) and {@code limit = L}: truncation already happened here,
 * so the kernel only places rows, pads, converts and writes lengths, mask and positions. Pure Java, so
 * the layout is tested without a GPU (against libcubatch, which reads it the same way).
 */
public final class CompactLayout {
    private final int batch;
    private final long features;
    private final int elementBytes;
    private final long[] first;
    private final long[] keep;
    private final long timesteps;

    private CompactLayout(int batch, long features, int elementBytes, long[] first, long[] keep, long timesteps) {
        this.batch = batch;
        this.features = features;
        this.elementBytes = elementBytes;
        this.first = first;
        this.keep = keep;
        this.timesteps = timesteps;
    }

    /**
     * The layout of {@code indices} under {@code shape} (from {@link Collation#shape}, which validated them).
     *
     * @param store the samples
     * @param indices the batch's sample indices, validated
     * @param padding the padding, whose truncation side decides which timesteps are kept
     * @param shape the batch's shape, from {@link Collation#shape} for the same arguments
     * @return the layout
     */
    public static CompactLayout of(SampleStore store, long[] indices, Padding padding, PaddedShape shape) {
        long[] first = new long[indices.length];
        long[] keep = new long[indices.length];
        long total = 0;
        for (int b = 0; b < indices.length; b++) {
            Collation.Geometry g = Collation.geometry(store, indices[b], padding, shape);
            first[b] = g.first();
            keep[b] = g.keep();
            total += g.keep();
        }
        return new CompactLayout(indices.length, store.features(), store.dtype().byteSize(), first, keep, total);
    }

    /**
     * Bytes of the offsets part: 8 (B + 1).
     *
     * @return the byte count
     */
    public long offsetBytes() {
        return 8L * (batch + 1);
    }

    /**
     * Bytes of the tokens part: kept timesteps x features x element size.
     *
     * @return the byte count
     */
    public long tokenBytes() {
        return timesteps * features * elementBytes;
    }

    /**
     * Everything that is transferred: offsets + tokens, exactly.
     *
     * @return the byte count
     */
    public long bytes() {
        return offsetBytes() + tokenBytes();
    }

    /**
     * Real (kept) timesteps in the batch.
     *
     * @return the timestep count
     */
    public long timesteps() {
        return timesteps;
    }

    /**
     * Writes the layout into {@code into} (at least {@link #bytes()} long) from the store's values.
     *
     * @param store the store the layout was made from (the same one)
     * @param into the staging memory, usually pinned; written from offset 0
     * @throws IllegalArgumentException when {@code into} is shorter than {@link #bytes()}
     * @throws IllegalStateException when the store is closed
     */
    public void write(SampleStore store, MemorySegment into) {
        if (into.byteSize() < bytes()) {
            throw new IllegalArgumentException("staging slot of " + into.byteSize() + " bytes cannot hold a compact"
                    + " batch of " + bytes() + " bytes");
        }
        MemorySegment values = store.values();
        long rowStep = features * elementBytes;
        long at = offsetBytes();
        long offset = 0;
        into.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0);
        for (int b = 0; b < batch; b++) {
            long bytes = keep[b] * rowStep;
            MemorySegment.copy(values, first[b] * rowStep, into, at, bytes);
            at += bytes;
            offset += keep[b];
            into.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, b + 1, offset);
        }
    }
}
