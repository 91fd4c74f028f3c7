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
 */
public record FilledBatch(PaddedShape shape, Optional<PaddedBatch> host, Optional<DeviceTensors> device,
                          long realTokens) {
    public FilledBatch {
        if (host.isPresent() == device.isPresent()) {
            throw new IllegalArgumentException("a filled batch is either on the host or on a device");
        }
    }
}
