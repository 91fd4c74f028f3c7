package io.cubatch.cuda;

import io.cubatch.collate.BatchSlot;
import io.cubatch.collate.Collation;
import io.cubatch.collate.Collator;
import io.cubatch.collate.FilledBatch;
import io.cubatch.collate.PackLayout;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import io.cubatch.collate.SingleUser;
import io.cubatch.collate.ResidentStore;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * The {@code cuda} backend. Per padded batch: the host gathers only the batch's real (already truncated)
 * tokens and their offsets into a slot's pinned staging ({@link CompactLayout}); one async H2D copy sends them;
 * the fused kernel ({@code cb_pad_kernel}, or {@code cb_pad_kernel16} with 16-byte stores when no dtype
 * conversion is needed and rows are multiples of 16 bytes) builds data [B, L(, F)], lengths, attention mask
 * and positions on the device, in the slot's output area. With {@link #upload a device-resident dataset}
 * only the indices travel.
 *
 * <p>In a {@link io.cubatch.loader.BatchLoader} the loader's ring holds {@link CudaSlot}s ({@link #newSlot})
 * and its workers {@link #fill} them: the one ring. {@link #pad} and {@link #stack} implement {@link Collator}
 * with a slot of the collator's own, synchronously, copying the result back into caller memory, so every
 * backend is compared byte for byte with the {@code java} one. Validation (indices, maxlen, pad value) is the
 * shared {@link Collation} code: the kernels only see checked arguments. One thread at a time, like every
 * collator (a second is refused: {@link SingleUser}); owns its slot, and its context when made by {@link #open} (cheap: the device's primary context
 * and kernels are registered once per process).
 */
public final class CudaCollator implements Collator {
    private final CudaContext context;
    private final boolean ownsContext;
    private CudaSlot own;
    private long batches;
    private long h2dBytes;
    private long lastH2dBytes;
    private final SingleUser user = new SingleUser("cuda collator");

    /**
     * A collator on {@code context}, which the caller keeps owning.
     *
     * @param context the device's context; not closed by the collator, and to be closed after it
     */
    public CudaCollator(CudaContext context) {
        this(context, false);
    }

    private CudaCollator(CudaContext context, boolean ownsContext) {
        this.context = context;
        this.ownsContext = ownsContext;
    }

    /**
     * A collator with its own context on device {@code device}.
     *
     * @param device the CUDA device ordinal
     * @return the collator; closing it closes its context too
     * @throws IllegalStateException when the cuda backend is unavailable here
     * @throws IllegalArgumentException for a device that does not exist
     */
    public static CudaCollator open(int device) {
        return new CudaCollator(CudaContext.open(device), true);
    }

    @Override
    public String name() {
        return "cuda";
    }

    /**
     * The context this collator runs on.
     *
     * @return the context
     */
    public CudaContext context() {
        return context;
    }

    /**
     * Batches built so far by {@link #pad}, {@link #stack} and {@link #fill}.
     *
     * @return the batch count
     */
    public long batches() {
        return batches;
    }

    /**
     * Bytes sent host to device by those batches.
     *
     * @return the byte count
     */
    public long h2dBytes() {
        return h2dBytes;
    }

    /**
     * Bytes the last of them sent host to device.
     *
     * @return the byte count
     */
    public long lastH2dBytes() {
        return lastH2dBytes;
    }

    /** Runs {@code call} as this collator's one user (a second thread is refused, a closed collator too). */
    private <T> T guarded(java.util.function.Supplier<T> call) {
        user.enter();
        try {
            return call.get();
        } finally {
            user.exit();
        }
    }

    private void count(long sent) {
        batches++;
        h2dBytes += sent;
        lastH2dBytes = sent;
    }

    /** The collator's own slot for {@link #pad} and {@link #stack}, made on first use. */
    private CudaSlot own() {
        if (own == null) {
            own = new CudaSlot(context.ordinal());
        }
        return own;
    }

    /** A slot of this collator's device for a loader's ring; the caller closes it. */
    @Override
    public CudaSlot newSlot(PaddedShape largest, int maxRows, Padding padding) {
        return guarded(() -> new CudaSlot(context.ordinal()));
    }

    /**
     * Pads into a loader's slot ({@link #newSlot}) and waits for the device, so the kernel's errors reach the
     * worker (and the consumer as a {@link io.cubatch.loader.LoaderException}), not a batch in use.
     */
    @Override
    public FilledBatch fill(BatchSlot slot, SampleStore store, long[] indices, Padding padding) {
        return guarded(() -> {
            CudaSlot s = cudaSlot(slot);
            return filled(s, s.enqueue(store, indices, padding), Optional.empty());
        });
    }

    @Override
    public FilledBatch fill(BatchSlot slot, ResidentStore store, long[] indices, Padding padding) {
        return guarded(() -> fillResident(slot, store, indices, padding));
    }

    private FilledBatch fillResident(BatchSlot slot, ResidentStore store, long[] indices, Padding padding) {
        CudaSlot s = cudaSlot(slot);
        if (!(store instanceof DeviceStore d)) {
            throw new IllegalArgumentException("not a dataset resident on a GPU: " + store.getClass().getName());
        }
        if (d.device() != s.device()) {
            throw new IllegalArgumentException("dataset is resident on device " + d.device() + ", the slot is on device "
                    + s.device());
        }
        return filled(s, s.enqueue(d, indices, padding), Optional.empty());
    }

    private static CudaSlot cudaSlot(BatchSlot slot) {
        if (!(slot instanceof CudaSlot s)) {
            throw new IllegalArgumentException("the cuda backend fills its own slots (newSlot), not "
                    + slot.getClass().getName());
        }
        return s;
    }

    /** Waits for a slot's batch (its kernel errors are thrown here), measures it and counts it. */
    private FilledBatch filled(CudaSlot s, CudaTensors t, Optional<FilledBatch.Packing> packing) {
        t.await();
        s.measureIfDone();
        count(t.h2dBytes());
        return new FilledBatch(t.shape(), Optional.empty(), Optional.of(t), t.realTokens(), packing);
    }

    /** Packs on the device into a loader's slot, and waits for it (as {@link #fill} does). */
    @Override
    public FilledBatch fillPacked(BatchSlot slot, SampleStore store, long[] indices, Padding padding) {
        return guarded(() -> packed(slot, store, indices, padding));
    }

    private FilledBatch packed(BatchSlot slot, SampleStore store, long[] indices, Padding padding) {
        CudaSlot s = cudaSlot(slot);
        PackLayout layout = PackLayout.of(store, indices, padding);
        return filled(s, s.enqueuePacked(store, indices, padding, layout),
                Optional.of(new FilledBatch.Packing(layout, Optional.empty())));
    }

    /** Uploads {@code store} to this collator's GPU if it fits {@code budgetBytes}; the caller closes it. */
    @Override
    public DeviceStore upload(SampleStore store, long budgetBytes) {
        return guarded(() -> DeviceStore.upload(context, store, budgetBytes));
    }

    /** Pads on the device in the collator's own slot and copies the batch into {@code out}. */
    @Override
    public void pad(SampleStore store, long[] indices, Padding padding, PaddedBatch out) {
        guarded(() -> {
            Collation.checkOutput(store, indices, padding, out);
            CudaTensors t = own().enqueue(store, indices, padding);
            t.copyTo(out);
            count(t.h2dBytes());
            return null;
        });
    }

    @Override
    public void stack(SampleStore store, long[] indices, DType dtype, MemorySegment out) {
        guarded(() -> {
            long rowElems = Collation.checkStack(store, indices, dtype, out);
            own().stack(store, indices, dtype, rowElems, out);
            count(rowElems * store.dtype().byteSize() * indices.length);
            return null;
        });
    }

    /**
     * Frees the collator's slot, and closes the context if this owns it; the first failure is thrown. A call
     * running on another thread is waited for first.
     */
    @Override
    public void close() {
        user.close(() -> {
            try {
                if (own != null) {
                    own.close();
                }
            } finally {
                if (ownsContext) {
                    context.close();
                }
            }
        });
    }
}
