package io.cubatch.collate;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A host-memory slot: tensors for the largest batch the loader can produce, int32 {@code cu_seqlens} for
 * packing, and the pad value, allocated once in the slot's own Arena and reused for every batch.
 */
public final class HostSlot implements BatchSlot {
    private final Arena arena = Arena.ofShared();
    private final PaddedBatch buffers;
    private final MemorySegment cuSeqlens;
    private final MemorySegment padValue;
    private final long bytes;
    private boolean closed;

    private HostSlot(PaddedShape largest, int maxRows, Padding padding) {
        try {
            this.buffers = PaddedBatch.allocate(largest, arena);
            this.cuSeqlens = arena.allocate(4L * (maxRows + 1), 4);
            this.padValue = arena.allocate(8, 8);
            Collation.padValue(padding, padValue);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
        this.bytes = largest.dataBytes() + largest.lengthsBytes() + largest.maskBytes() + largest.positionsBytes()
                + cuSeqlens.byteSize() + padValue.byteSize();
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
