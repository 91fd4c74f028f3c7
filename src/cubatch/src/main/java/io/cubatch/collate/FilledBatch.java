package io.cubatch.collate;

import java.util.Objects;
import java.util.Optional;

/**
 * What {@link Collator#fill} put into a slot: the batch's shape, and its tensors, as host segments (a view of
 * the slot's buffers) or on a device.
 *
 * <p>Valid until its slot is filled again or closed, as the memory it views is. A packed batch of a
 * {@link HostSlot} ({@link Collator#fillPacked} by a host backend) is moreover the slot's own object, reused for
 * each of its packed batches so that packing allocates nothing per batch: filling the slot again changes
 * what this object answers (its shape, tensors, real tokens and layout), not only the bytes it views. Read what
 * you need, or copy it, before the slot is filled again. Every other FilledBatch never changes.
 *
 * <p>Equality is by value, as it was when this was a record (shape, host, device, realTokens, packing).
 */
public final class FilledBatch {
    private PaddedShape shape;
    private Optional<PaddedBatch> host;
    private final Optional<DeviceTensors> device;
    private long realTokens;
    private Optional<Packing> packing;

    /**
     * A packed batch's layout, and its host {@code cu_seqlens} (empty on a device).
     *
     * @param layout where each sequence went; for a host slot's batch, the slot's reusable layout
     *               ({@link PackLayout#reusable()}), valid until the slot is filled again
     * @param hostCuSeqlens the host int32 {@code cu_seqlens} [S + 1], or empty on a device
     */
    public record Packing(PackLayout layout, Optional<java.lang.foreign.MemorySegment> hostCuSeqlens) {
    }

    /**
     * A batch, packed or padded.
     *
     * @param shape      [B, L(, F)], dtype and positions
     * @param host       the host tensors; empty for a device batch
     * @param device     the device tensors; empty for a host batch
     * @param realTokens real (non-padding) timesteps in the batch, after truncation
     * @param packing    for a packed batch ({@link Collator#fillPacked}): its layout and, on the host, its int32
     *                   {@code cu_seqlens} [S + 1] (the device's are in {@link DeviceTensors#cuSeqlens()})
     * @throws IllegalArgumentException when both or neither of {@code host} and {@code device} are present
     */
    public FilledBatch(PaddedShape shape, Optional<PaddedBatch> host, Optional<DeviceTensors> device, long realTokens,
                       Optional<Packing> packing) {
        if (host.isPresent() == device.isPresent()) {
            throw new IllegalArgumentException("a filled batch is either on the host or on a device");
        }
        this.shape = shape;
        this.host = host;
        this.device = device;
        this.realTokens = realTokens;
        this.packing = Objects.requireNonNull(packing, "packing");
    }

    /**
     * A padded (not packed) batch.
     *
     * @param shape the batch's shape
     * @param host the host tensors, or empty
     * @param device the device tensors, or empty
     * @param realTokens the real timesteps in the batch
     * @throws IllegalArgumentException when both or neither of {@code host} and {@code device} are present
     */
    public FilledBatch(PaddedShape shape, Optional<PaddedBatch> host, Optional<DeviceTensors> device, long realTokens) {
        this(shape, host, device, realTokens, Optional.empty());
    }

    /** The next packed batch of a host slot, into the slot's own object ({@link HostSlot#placePacked}). */
    void reuse(PaddedShape shape, Optional<PaddedBatch> host, long realTokens, Optional<Packing> packing) {
        this.shape = shape;
        this.host = host;
        this.realTokens = realTokens;
        this.packing = packing;
    }

    /**
     * [B, L(, F)], dtype and positions; for a packed batch [rows, maxlen(, F)].
     *
     * @return the shape
     */
    public PaddedShape shape() {
        return shape;
    }

    /**
     * The host tensors, a view of the slot's buffers.
     *
     * @return the tensors, or empty for a device batch
     */
    public Optional<PaddedBatch> host() {
        return host;
    }

    /**
     * The device tensors.
     *
     * @return the tensors, or empty for a host batch
     */
    public Optional<DeviceTensors> device() {
        return device;
    }

    /**
     * Real (non-padding) timesteps in the batch, after truncation.
     *
     * @return the count
     */
    public long realTokens() {
        return realTokens;
    }

    /**
     * For a packed batch ({@link Collator#fillPacked}): its layout and, on the host, its int32 {@code cu_seqlens}
     * [S + 1] (the device's are in {@link DeviceTensors#cuSeqlens()}).
     *
     * @return the packing, or empty for a padded batch
     */
    public Optional<Packing> packing() {
        return packing;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FilledBatch f && Objects.equals(shape, f.shape) && host.equals(f.host) && device.equals(f.device)
                && realTokens == f.realTokens && packing.equals(f.packing);
    }

    @Override
    public int hashCode() {
        return Objects.hash(shape, host, device, realTokens, packing);
    }

    @Override
    public String toString() {
        return "FilledBatch[shape=" + shape + ", host=" + host + ", device=" + device + ", realTokens=" + realTokens
                + ", packing=" + packing + "]";
    }
}
