package io.cubatch.collate;

import io.cubatch.store.InsufficientMemoryException;
import io.cubatch.store.NativeMemory;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The output buffers of one padded batch: {@code data} [B, L(, F)] of the output dtype, {@code lengths}
 * int32 [B], {@code attentionMask} uint8 [B, L] (1 = real token), and {@code positions} int32 [B, L] when
 * asked for (else {@link MemorySegment#NULL}). The memory belongs to the caller: {@link #allocate} carves
 * it from the caller's arena, or the caller wraps its own segments (pinned slabs, a ring slot), which are
 * checked against the shape. Reusing one PaddedBatch across batches of the same or smaller shape is how
 * steady-state collation allocates nothing.
 *
 * @param shape the batch's shape; every buffer holds at least what it needs
 * @param data the padded values, {@code shape.dataBytes()} bytes or more
 * @param lengths the int32 real length of each row, {@code shape.lengthsBytes()} bytes or more
 * @param attentionMask the uint8 mask, {@code shape.maskBytes()} bytes or more
 * @param positions the int32 position ids, {@code shape.positionsBytes()} bytes or more; ignored (may be {@link
 *     MemorySegment#NULL}) when the shape has no positions
 */
public record PaddedBatch(PaddedShape shape, MemorySegment data, MemorySegment lengths,
                          MemorySegment attentionMask, MemorySegment positions) {

    /**
     * Checks every buffer against the shape.
     *
     * @throws IllegalArgumentException naming the buffer, the bytes it needs and the bytes it holds
     * @throws CollateException when the shape's total exceeds 2^63 bytes
     */
    public PaddedBatch {
        totalBytes(shape);
        require("data", data, shape.dataBytes());
        require("lengths", lengths, shape.lengthsBytes());
        require("attention mask", attentionMask, shape.maskBytes());
        if (shape.positions()) {
            require("positions", positions, shape.positionsBytes());
        }
    }

    /**
     * Exactly sized buffers from {@code arena}, which owns them. The total is checked against the native
     * memory available first ({@link NativeMemory}).
     *
     * @param shape the batch's shape
     * @param arena the caller's arena; closing it frees the buffers
     * @return the buffers, 16-byte aligned data, exactly sized
     * @throws InsufficientMemoryException naming the bytes needed, the bytes available and the fix, before
     *                                     anything is allocated
     */
    public static PaddedBatch allocate(PaddedShape shape, Arena arena) {
        NativeMemory.require(totalBytes(shape), () -> "a padded batch " + Collation.describe(shape) + " (data "
                + shape.dataBytes() + " bytes, lengths " + shape.lengthsBytes() + ", attention_mask " + shape.maskBytes()
                + (shape.positions() ? ", position_ids " + shape.positionsBytes() : "") + ")",
                "lower maxlen (CLI --maxlen; unset, it is the batch's longest sequence), pad fewer samples at once,"
                        + " or choose a narrower dtype");
        return new PaddedBatch(shape, arena.allocate(Math.max(1, shape.dataBytes()), 16).asSlice(0, shape.dataBytes()),
                arena.allocate(Math.max(1, shape.lengthsBytes()), 4).asSlice(0, shape.lengthsBytes()),
                arena.allocate(Math.max(1, shape.maskBytes()), 1).asSlice(0, shape.maskBytes()),
                shape.positions() ? arena.allocate(Math.max(1, shape.positionsBytes()), 4).asSlice(0, shape.positionsBytes())
                        : MemorySegment.NULL);
    }

    /**
     * The same buffers viewed with another (no larger) shape: how a reused PaddedBatch takes the next batch.
     *
     * @param next a shape whose every buffer fits in this one's
     * @return slices of these buffers; no memory is copied or allocated
     * @throws IndexOutOfBoundsException when {@code next} needs more than a buffer holds
     */
    public PaddedBatch withShape(PaddedShape next) {
        return new PaddedBatch(next, data.asSlice(0, next.dataBytes()), lengths.asSlice(0, next.lengthsBytes()),
                attentionMask.asSlice(0, next.maskBytes()),
                next.positions() ? positions.asSlice(0, next.positionsBytes()) : MemorySegment.NULL);
    }

    /**
     * {@code shape.totalBytes()}, or a CollateException naming the shape when that overflows 64 bits (a shape
     * made directly rather than by {@link Collation#shape}, which refuses such batches itself).
     */
    private static long totalBytes(PaddedShape shape) {
        try {
            return shape.totalBytes();
        } catch (ArithmeticException e) {
            throw new CollateException("a padded batch of " + Collation.describe(shape) + " has more than 2^63 bytes:"
                    + " lower maxlen (CLI --maxlen), or the batch size");
        }
    }

    private static void require(String what, MemorySegment s, long bytes) {
        if (s == null || s.byteSize() < bytes) {
            throw new IllegalArgumentException("insufficient capacity: " + what + " needs " + bytes
                    + " bytes, segment holds " + (s == null ? "nothing" : s.byteSize()));
        }
    }
}
