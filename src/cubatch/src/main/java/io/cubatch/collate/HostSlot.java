package io.cubatch.collate;

import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * A host-memory slot: tensors for the largest batch the loader can produce, int32 {@code cu_seqlens} for
 * packing, the pad value and a row of ones (a packed mask's source), allocated once in the slot's own Arena
 * and reused for every batch. For packed batches it also owns their layout and result ({@link #placePacked}),
 * reused from batch to batch, so that a host backend packs without allocating: a packed {@link FilledBatch}
 * of this slot is valid until the slot is filled again or closed.
 */
public final class HostSlot implements BatchSlot {
    private final Arena arena = Arena.ofShared();
    private final PaddedBatch buffers;
    private final MemorySegment cuSeqlens;
    private final MemorySegment padValue;
    private final MemorySegment ones;
    private final long bytes;
    private boolean closed;
    // the packed batch in the slot, reused: its layout, its views by row count, its cu_seqlens, the result
    private final PackLayout packLayout = PackLayout.reusable();
    @SuppressWarnings({"unchecked", "rawtypes"})   // an array of Optional<PaddedBatch>
    private Optional<PaddedBatch>[] packedViews = new Optional[0];
    private Optional<FilledBatch.Packing> packing = Optional.empty();
    private FilledBatch packed;

    private HostSlot(PaddedShape largest, int maxRows, Padding padding) {
        try {
            this.buffers = PaddedBatch.allocate(largest, arena);
            this.cuSeqlens = arena.allocate(4L * (maxRows + 1), 4);
            this.padValue = arena.allocate(8, 8);
            Collation.padValue(padding, padValue);
            this.ones = arena.allocate(Math.max(1, largest.length()), 8).fill((byte) 1);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
        this.bytes = largest.dataBytes() + largest.lengthsBytes() + largest.maskBytes() + largest.positionsBytes()
                + cuSeqlens.byteSize() + padValue.byteSize() + ones.byteSize();
    }

    /**
     * A slot for batches up to {@code largest} (rows, length, features, dtype, positions) and up to
     * {@code maxRows} sequences (for {@code cu_seqlens}), with {@code padding}'s pad value.
     *
     * @param largest the largest batch's shape
     * @param maxRows the most sequences per batch (it sizes {@code cu_seqlens})
     * @param padding the padding, whose value is stored converted to its dtype
     * @return the slot, owning its memory until {@link #close()}
     * @throws io.cubatch.store.InsufficientMemoryException when the buffers would not fit the native memory available
     * @throws CollateException when the pad value does not fit the dtype
     */
    public static HostSlot allocate(PaddedShape largest, int maxRows, Padding padding) {
        return new HostSlot(largest, maxRows, padding);
    }

    /**
     * The tensors, sized for the largest batch: {@link PaddedBatch#withShape} views a smaller one.
     *
     * @return the buffers; valid until the slot is closed
     */
    public PaddedBatch buffers() {
        return buffers;
    }

    /**
     * int32 [maxRows + 1].
     *
     * @return the segment of {@code 4 x (maxRows + 1)} bytes
     */
    public MemorySegment cuSeqlens() {
        return cuSeqlens;
    }

    /**
     * The pad value, one element of the padding's dtype.
     *
     * @return the 8-byte segment holding it
     */
    public MemorySegment padValue() {
        return padValue;
    }

    /**
     * Starts a packed batch in this slot: places {@code indices} into the slot's own {@link PackLayout} and
     * returns the slot's own {@link FilledBatch} for it, whose host tensors view the buffers as data, mask and
     * positions [rows, maxlen(, F)] and lengths [S], and whose packing holds that layout and {@code cu_seqlens}
     * [S + 1]. It writes no tensor: the collator packing the batch does ({@link Collator#fillPacked}). The
     * previous batch of the slot, its FilledBatch and layout included, is gone from the call on (the same
     * objects now describe this one). Once the slot has seen a batch of this size and row count, this allocates
     * nothing. When it throws, the slot holds no batch.
     *
     * @param store the samples
     * @param indices the batch's sample indices, at most the slot's {@code maxRows}
     * @param padding the padding, with a fixed maxlen (the row length)
     * @return the slot's packed batch, tensors not yet written; valid until the slot is filled again or closed
     * @throws IllegalArgumentException when the padding has no maxlen
     * @throws IndexOutOfBoundsException when the batch needs more rows or sequences than the slot holds
     * @throws CollateException as {@link PackLayout#of} does
     */
    public FilledBatch placePacked(SampleStore store, long[] indices, Padding padding) {
        PackLayout layout = packLayout.place(store, indices, padding);
        int rows = layout.rows();
        int seqs = layout.sequences();
        if (packedViews.length <= rows) {
            packedViews = java.util.Arrays.copyOf(packedViews, Math.max(rows + 1, 2 * packedViews.length));
        }
        Optional<PaddedBatch> view = packedViews[rows];
        // a view per row count, kept while the layout's shape (the same object per row count) and S stay
        if (view == null || view.get().shape() != layout.shape() || view.get().lengths().byteSize() != 4L * seqs) {
            PaddedBatch r = buffers.withShape(layout.shape());
            view = Optional.of(new PaddedBatch(r.shape(), r.data(), buffers.lengths().asSlice(0, 4L * seqs),
                    r.attentionMask(), r.positions()));
            packedViews[rows] = view;
        }
        if (packing.isEmpty() || packing.get().hostCuSeqlens().get().byteSize() != 4L * (seqs + 1)) {
            packing = Optional.of(new FilledBatch.Packing(layout, Optional.of(cuSeqlens.asSlice(0, 4L * (seqs + 1)))));
        }
        if (packed == null) {
            packed = new FilledBatch(layout.shape(), view, Optional.empty(), layout.realTokens(), packing);
        } else {
            packed.reuse(layout.shape(), view, layout.realTokens(), packing);
        }
        return packed;
    }

    /**
     * A row of uint8 ones, as long as the largest batch's rows: the source a packed batch's attention mask is
     * copied from, one run per sequence, without a slice per sequence.
     *
     * @return the segment of {@code max(1, largest.length())} bytes, each 1
     */
    public MemorySegment ones() {
        return ones;
    }

    @Override
    public BackendProvider.Memory memory() {
        return BackendProvider.Memory.HOST;
    }

    @Override
    public int device() {
        return -1;
    }

    @Override
    public long bytesHeld() {
        return bytes;
    }

    /**
     * Frees the slot's memory; idempotent.
     *
     * @throws IllegalStateException while a native call still uses the memory (then nothing is freed, and a
     *                               later close frees it)
     */
    @Override
    public synchronized void close() {
        if (!closed) {
            arena.close();
            closed = true;
        }
    }
}
