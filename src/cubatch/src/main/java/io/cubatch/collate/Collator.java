package io.cubatch.collate;

import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.MemorySegment;

/**
 * Turns the samples a batch plan picked into tensors. One interface, several backends
 * ({@link Backends}): {@code java} (pure Java, the reference), {@code native} (libcubatch through
 * java.lang.foreign), later {@code cuda}. Every backend writes the same bytes for the same input; a
 * property test proves it for each one present.
 *
 * <p>Output goes into caller-provided memory: {@link #shape} sizes the batch, the caller allocates (once,
 * then reuses), {@link #pad} fills. A collator instance is not thread-safe: use one per thread, or hand it
 * over between calls. A second thread calling in while another is inside gets an
 * {@link IllegalStateException} naming that thread (never a shared buffer: issue 14), and {@link #close()}
 * during a call on another thread waits for that call, then frees.
 */
public interface Collator extends AutoCloseable {

    /**
     * The backend name: {@code java}, {@code native}, ...
     *
     * @return the name it is registered under
     */
    String name();

    /**
     * The padded shape of {@code indices} from {@code store} under {@code padding}, after validating the
     * indices and, when no truncation side is set, that no sequence exceeds {@code maxlen}.
     *
     * @param store the samples
     * @param indices the batch's sample indices, at least one
     * @param padding the padding
     * @return the shape of the batch's data, mask, lengths and positions
     * @throws IndexOutOfBoundsException naming an index outside the store
     * @throws CollateException          naming a sequence longer than maxlen when no truncation side is set
     */
    default PaddedShape shape(SampleStore store, long[] indices, Padding padding) {
        return Collation.shape(store, indices, padding);
    }

    /**
     * Gathers, truncates, pads and converts {@code indices} into {@code out}, and fills its lengths, mask and
     * (when asked) positions. {@code out.shape()} must be {@link #shape}'s result for the same arguments.
     *
     * @param store the samples; not closed
     * @param indices the batch's sample indices
     * @param padding the padding
     * @param out the caller's output, sized by {@link #shape}; written, not kept
     * @throws CollateException naming the sample, timestep and value that does not fit the output dtype
     * @throws IllegalArgumentException when {@code out}'s shape does not match
     */
    void pad(SampleStore store, long[] indices, Padding padding, PaddedBatch out);

    /**
     * Stacks fixed-shape samples into {@code [B, timesteps, features...]} of {@code dtype}: {@code out} holds
     * {@code indices.length * timesteps * features} elements.
     *
     * @param store the fixed-shape samples
     * @param indices the batch's sample indices
     * @param dtype the output's element type
     * @param out the caller's output; written, not kept
     * @throws IllegalArgumentException when the store is ragged (use {@link #pad}) or out is too small
     * @throws CollateException         naming a value that does not fit {@code dtype}
     */
    void stack(SampleStore store, long[] indices, DType dtype, MemorySegment out);

    /**
     * A slot for a loader's ring, in this backend's memory, for batches up to {@code largest} and up to
     * {@code maxRows} sequences. The host backends give a {@link HostSlot}; the caller closes the slot.
     *
     * @param largest the largest batch the slot must hold
     * @param maxRows the most sequences per batch (it sizes a packed batch's {@code cu_seqlens})
     * @param padding the padding of the batches to come
     * @return a new slot, owned by the caller
     */
    default BatchSlot newSlot(PaddedShape largest, int maxRows, Padding padding) {
        return HostSlot.allocate(largest, maxRows, padding);
    }

    /**
     * Pads {@code indices} into {@code slot} (made by this backend's {@link #newSlot}; one batch per slot at a
     * time). The host backends {@link #pad} into the slot's buffers; a device backend enqueues the work and
     * returns without waiting (its {@link DeviceTensors#await()} waits).
     *
     * @param slot a slot from this backend's {@link #newSlot}, not holding another batch
     * @param store the samples
     * @param indices the batch's sample indices
     * @param padding the padding
     * @return the batch, a view of the slot's memory; valid until the slot is filled again or closed
     * @throws CollateException as {@link #pad} does
     * @throws IllegalArgumentException when the slot is not this backend's kind
     */
    default FilledBatch fill(BatchSlot slot, SampleStore store, long[] indices, Padding padding) {
        if (!(slot instanceof HostSlot h)) {
            throw new IllegalArgumentException("backend " + name() + " fills host slots, not " + slot.getClass().getName());
        }
        PaddedShape shape = shape(store, indices, padding);
        PaddedBatch view = h.buffers().withShape(shape);
        pad(store, indices, padding, view);
        long real = 0;
        for (int i = 0; i < indices.length; i++) {
            real += view.lengths().getAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, i);
        }
        return new FilledBatch(shape, java.util.Optional.of(view), java.util.Optional.empty(), real);
    }

    /**
     * Packs {@code indices} into {@code slot} as {@link PackLayout} places them: rows of the padding's maxlen,
     * lengths, {@code cu_seqlens} and max_seqlen per sequence in packed order, positions restarting per
     * sequence. The host backends write the slot's buffers in Java; a device backend packs on the device.
     *
     * @param slot a slot from this backend's {@link #newSlot}, with {@code maxRows >= indices.length}
     * @param store the samples
     * @param indices the batch's sample indices
     * @param padding the padding, with a fixed maxlen (the row length)
     * @return the packed batch with its layout, a view of the slot's memory; valid until the slot is filled again
     *     or closed. The host backends return the slot's own object ({@link HostSlot#placePacked}), reused for its
     *     next packed batch, so that packing allocates nothing per batch
     * @throws CollateException naming the sample and value that does not fit, as the other backends do
     * @throws IllegalArgumentException when the slot is not this backend's kind or the padding has no maxlen
     */
    default FilledBatch fillPacked(BatchSlot slot, SampleStore store, long[] indices, Padding padding) {
        if (!(slot instanceof HostSlot h)) {
            throw new IllegalArgumentException("backend " + name() + " packs into host slots, not " + slot.getClass().getName());
        }
        FilledBatch f = h.placePacked(store, indices, padding);
        io.cubatch.collate.internal.HostPacking.pack(store, indices, padding, f, h);
        return f;
    }

    /**
     * Uploads {@code store} to this backend's device when it needs at most {@code budgetBytes}; the caller
     * closes it. Host backends have no device.
     *
     * @param store the samples to copy to the device
     * @param budgetBytes the most device bytes the copy may take
     * @return the device copy, owned by the caller
     * @throws IllegalArgumentException naming both sizes when it does not fit, or for a host backend
     */
    default ResidentStore upload(SampleStore store, long budgetBytes) {
        throw new IllegalArgumentException("backend " + name() + " runs on the host: a device-resident dataset needs"
                + " the cuda backend");
    }

    /**
     * {@link #fill} from a dataset resident on the device ({@link #upload}): only the indices travel.
     *
     * @param slot a slot from this backend's {@link #newSlot}
     * @param store the resident dataset, from this backend's {@link #upload}
     * @param indices the batch's sample indices
     * @param padding the padding
     * @return the batch in the slot's device memory
     * @throws IllegalArgumentException for a host backend
     */
    default FilledBatch fill(BatchSlot slot, ResidentStore store, long[] indices, Padding padding) {
        throw new IllegalArgumentException("backend " + name() + " runs on the host: a device-resident dataset needs"
                + " the cuda backend");
    }

    /**
     * Frees the backend's own scratch memory (native index buffers, device state); idempotent. During a call
     * on another thread, waits for it to return first, so the memory is never left allocated.
     */
    @Override
    default void close() {
    }
}
