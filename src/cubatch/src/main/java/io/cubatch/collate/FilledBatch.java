package io.cubatch.collate;

import java.util.Optional;

/**
 * What {@link Collator#fill} put into a slot: the batch's shape, and its tensors, as host segments (a view of
 * the slot's buffers) or on a device.
 *
 * @param shape      [B, L(, F)], dtype and positions
 * @param host       the host tensors; empty for a device batch
 * @param device     the device tensors; empty for a host batch
 * @param realTokens real (non-padding) timesteps in the batch, after truncation
 * @param packing    for a packed batch ({@link Collator#fillPacked}): its layout and, on the host, its int32
 *                   {@code cu_seqlens} [S + 1] (the device's are in {@link DeviceTensors#cuSeqlens()})
 */
public record FilledBatch(PaddedShape shape, Optional<PaddedBatch> host, Optional<DeviceTensors> device,
                          long realTokens, Optional<Packing> packing) {

    /**
     * A packed batch's layout, and its host {@code cu_seqlens} (empty on a device).
     *
     * @param layout where each sequence went
     * @param hostCuSeqlens the host int32 {@code cu_seqlens} [S + 1], or empty on a device
     */
    public record Packing(PackLayout layout, Optional<java.lang.foreign.MemorySegment> hostCuSeqlens) {
    }

    /**
     * A padded (not packed) batch.
     *
     * @param shape the batch's shape
     * @param host the host tensors, or empty
     * @param device the device tensors, or empty
     * @param realTokens the real timesteps in the batch
     */
    public FilledBatch(PaddedShape shape, Optional<PaddedBatch> host, Optional<DeviceTensors> device, long realTokens) {
        this(shape, host, device, realTokens, Optional.empty());
    }

    /**
     * Checks that the batch is on exactly one side.
     *
     * @throws IllegalArgumentException when both or neither of {@code host} and {@code device} are present
     */
    public FilledBatch {
        if (host.isPresent() == device.isPresent()) {
            throw new IllegalArgumentException("a filled batch is either on the host or on a device");
        }
    }
}
