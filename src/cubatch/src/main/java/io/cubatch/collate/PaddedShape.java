package io.cubatch.collate;

import io.cubatch.store.DType;

/**
 * The sizes of a padded batch, computed before any memory is touched (plan sizes, allocate exactly, fill).
 *
 * @param batch     B, rows
 * @param length    L, timesteps per row
 * @param features  F, elements per timestep (1 for scalar timesteps)
 * @param limit     truncation limit: sequences longer than this are cut (or rejected)
 * @param dtype     output element type
 * @param positions whether position ids are produced
 */
public record PaddedShape(int batch, long length, long features, long limit, DType dtype, boolean positions) {

    /**
     * Elements of {@code data}: {@code B * L * F}.
     *
     * @return the element count
     * @throws ArithmeticException when it overflows 64 bits
     */
    public long dataElements() {
        return Math.multiplyExact(Math.multiplyExact((long) batch, length), features);
    }

    /**
     * Bytes of {@code data}: {@code B * L * F * dtype.byteSize()}.
     *
     * @return the byte count
     * @throws ArithmeticException when it overflows 64 bits
     */
    public long dataBytes() {
        return Math.multiplyExact(dataElements(), dtype.byteSize());
    }

    /**
     * Bytes of {@code lengths}: int32 [B].
     *
     * @return {@code 4 B}
     */
    public long lengthsBytes() {
        return 4L * batch;
    }

    /**
     * Bytes of {@code attention_mask}: uint8 [B, L].
     *
     * @return {@code B L}
     * @throws ArithmeticException when it overflows 64 bits
     */
    public long maskBytes() {
        return Math.multiplyExact((long) batch, length);
    }

    /**
     * Bytes of {@code position_ids}: int32 [B, L], or 0 when not produced.
     *
     * @return {@code 4 B L}, or 0
     * @throws ArithmeticException when it overflows 64 bits
     */
    public long positionsBytes() {
        return positions ? Math.multiplyExact(4L * batch, length) : 0;
    }

    /**
     * Bytes of all four buffers together: what {@link PaddedBatch#allocate} takes.
     *
     * @return the byte count
     * @throws ArithmeticException when that overflows 64 bits ({@link Collation#shape} never returns such a shape)
     */
    public long totalBytes() {
        return Math.addExact(Math.addExact(Math.addExact(dataBytes(), lengthsBytes()), maskBytes()), positionsBytes());
    }
}
