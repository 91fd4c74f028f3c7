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

    /** The backend name: {@code java}, {@code native}, ... */
    String name();

    /**
     * The padded shape of {@code indices} from {@code store} under {@code padding}, after validating the
     * indices and, when no truncation side is set, that no sequence exceeds {@code maxlen}.
     *
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
     * @throws CollateException naming the sample, timestep and value that does not fit the output dtype
     */
    void pad(SampleStore store, long[] indices, Padding padding, PaddedBatch out);

    /**
     * Stacks fixed-shape samples into {@code [B, timesteps, features...]} of {@code dtype}: {@code out} holds
     * {@code indices.length * timesteps * features} elements.
     *
     * @throws IllegalArgumentException when the store is ragged (use {@link #pad}) or out is too small
     * @throws CollateException         naming a value that does not fit {@code dtype}
     */
    void stack(SampleStore store, long[] indices, DType dtype, MemorySegment out);

    /**
     * Frees the backend's own scratch memory (native index buffers, device state); idempotent. During a call
     * on another thread, waits for it to return first, so the memory is never left allocated.
     */
    @Override
    default void close() {
    }
}
