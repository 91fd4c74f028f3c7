package io.cubatch.cuda;

import io.cubatch.collate.BatchSlot;
import io.cubatch.collate.Collation;
import io.cubatch.collate.Collator;
import io.cubatch.collate.FilledBatch;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import io.cubatch.collate.ResidentStore;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
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
 * and its workers {@link #fill} them. Used on its own, {@link #padOnDevice} returns a {@link DeviceBatch} from
 * a pool of K slots of the collator's, without waiting: up to K batches are in flight at once. {@link #pad} and
 * {@link #stack} implement {@link Collator} by copying the result back into caller memory, so every backend is
 * compared byte for byte with the {@code java} one. Validation (indices, maxlen, pad value) is the shared
 * {@link Collation} code: the kernels only see checked arguments. Single-threaded, like every collator; owns
 * its slots, and its context when made by {@link #open} (cheap: the device's primary context and kernels are
 * registered once per process).
 */
public final class CudaCollator implements Collator {
    private final CudaContext context;
    private final boolean ownsContext;
    private final SlotPool pool;
    private final CudaSlot[] slots;
    private Duration slotTimeout = SlotPool.defaultTimeout();
    private long batches;
    private long h2dBytes;
    private long lastH2dBytes;
    private boolean closed;

    /**
     * A collator on {@code context} (which the caller keeps owning) with a pool of {@code slots} slots for
     * {@link #padOnDevice}, made on first use.
     */
    public CudaCollator(CudaContext context, int slots) {
        this(context, slots, false);
    }

    private CudaCollator(CudaContext context, int slots, boolean ownsContext) {
        this.pool = new SlotPool(slots);
        this.context = context;
        this.ownsContext = ownsContext;
        this.slots = new CudaSlot[slots];
    }

    /** A collator with its own context on device {@code device} and a pool of {@code slots} slots. */
    public static CudaCollator open(int device, int slots) {
        CudaContext c = CudaContext.open(device);
        try {
            return new CudaCollator(c, slots, true);
        } catch (RuntimeException e) {
            c.close();
            throw e;
        }
    }

    @Override
    public String name() {
        return "cuda";
    }

    public CudaContext context() {
        return context;
    }

    /** The slot accounting of {@link #padOnDevice}. */
    public SlotPool slots() {
        return pool;
    }

    /** How long {@link #padOnDevice} waits for a slot when all are held by open batches (default 30 s). */
    public void slotTimeout(Duration timeout) {
        this.slotTimeout = timeout;
    }

    /** Batches built so far by {@link #padOnDevice}, {@link #pad} and {@link #stack}. */
    public long batches() {
        return batches;
    }

    /** Bytes sent host to device by those batches. */
    public long h2dBytes() {
        return h2dBytes;
    }

    /** Bytes the last of them sent host to device. */
    public long lastH2dBytes() {
        return lastH2dBytes;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("cuda collator is closed");
        }
    }

    /** A free slot of the pool (made on first use), waiting up to the slot timeout. */
    private int acquire() {
        int i;
        try {
            i = pool.acquire(slotTimeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for a ring slot", e);
        }
        try {
            if (slots[i] == null) {
                slots[i] = new CudaSlot(context.ordinal());
            }
            return i;
        } catch (RuntimeException e) {
            pool.release(i);
            throw e;
        }
    }

    void release(int slot) {
        pool.release(slot);
    }

    private DeviceBatch counted(int slot, CudaTensors t) {
        batches++;
        h2dBytes += t.h2dBytes();
        lastH2dBytes = t.h2dBytes();
        return new DeviceBatch(this, slot, t);
    }

    /**
     * Pads {@code indices} of a host store on the device: compact H2D of real tokens and offsets, then the
     * fused kernel. Does not wait; the caller closes the batch.
     *
     * @throws IndexOutOfBoundsException naming an index outside the store
     * @throws io.cubatch.collate.CollateException for a sequence over maxlen without truncation, or a pad
     *                                             value the dtype cannot hold (a value that does not fit is
     *                                             reported by {@link DeviceBatch#await()})
     */
    public DeviceBatch padOnDevice(SampleStore store, long[] indices, Padding padding) {
        checkOpen();
        return padOnDevice(store, indices, padding, Collation.shape(store, indices, padding));
    }

    private DeviceBatch padOnDevice(SampleStore store, long[] indices, Padding padding, PaddedShape shape) {
        Collation.padValue(padding, MemorySegment.ofArray(new long[1]));   // throws for a value the dtype cannot hold
        int i = acquire();
        try {
            return counted(i, slots[i].padCompact(store, indices, padding, shape));
        } catch (RuntimeException e) {
            pool.release(i);
            throw e;
        }
    }

    /** Pads {@code indices} of a device-resident dataset: only the indices cross PCIe. */
    public DeviceBatch padOnDevice(DeviceStore store, long[] indices, Padding padding) {
        checkOpen();
        if (store.device() != context.ordinal()) {
            throw new IllegalArgumentException("dataset is resident on device " + store.device()
                    + ", this collator runs on device " + context.ordinal());
        }
        PaddedShape shape = Collation.shape(store.host(), indices, padding);
        Collation.padValue(padding, MemorySegment.ofArray(new long[1]));
        int i = acquire();
        try {
            return counted(i, slots[i].padResident(store, indices, padding, shape));
        } catch (RuntimeException e) {
            pool.release(i);
            throw e;
        }
    }

    /** A slot of this collator's device for a loader's ring; the caller closes it. */
    @Override
    public CudaSlot newSlot(PaddedShape largest, int maxRows, Padding padding) {
        checkOpen();
        return new CudaSlot(context.ordinal());
    }

    /**
     * Pads into a loader's slot ({@link #newSlot}) and waits for the device, so the kernel's errors reach the
     * worker (and the consumer as a {@link io.cubatch.loader.LoaderException}), not a batch in use.
     */
    @Override
    public FilledBatch fill(BatchSlot slot, SampleStore store, long[] indices, Padding padding) {
        checkOpen();
        CudaSlot s = cudaSlot(slot);
        PaddedShape shape = Collation.shape(store, indices, padding);
        Collation.padValue(padding, MemorySegment.ofArray(new long[1]));
        CudaTensors t = s.padCompact(store, indices, padding, shape);
        return filled(s, t, shape);
    }

    @Override
    public FilledBatch fill(BatchSlot slot, ResidentStore store, long[] indices, Padding padding) {
        checkOpen();
        CudaSlot s = cudaSlot(slot);
        if (!(store instanceof DeviceStore d)) {
            throw new IllegalArgumentException("not a dataset resident on a GPU: " + store.getClass().getName());
        }
        PaddedShape shape = Collation.shape(d.host(), indices, padding);
        Collation.padValue(padding, MemorySegment.ofArray(new long[1]));
        return filled(s, s.padResident(d, indices, padding, shape), shape);
    }

    private static CudaSlot cudaSlot(BatchSlot slot) {
        if (!(slot instanceof CudaSlot s)) {
            throw new IllegalArgumentException("the cuda backend fills its own slots (newSlot), not "
                    + slot.getClass().getName());
        }
        return s;
    }

    private static FilledBatch filled(CudaSlot s, CudaTensors t, PaddedShape shape) {
        t.await();
        s.measureIfDone();
        return new FilledBatch(shape, Optional.empty(), Optional.of(t), t.realTokens());
    }

    /** Uploads {@code store} to this collator's GPU if it fits {@code budgetBytes}; the caller closes it. */
    @Override
    public DeviceStore upload(SampleStore store, long budgetBytes) {
        checkOpen();
        return DeviceStore.upload(context, store, budgetBytes);
    }

    @Override
    public void pad(SampleStore store, long[] indices, Padding padding, PaddedBatch out) {
        checkOpen();
        PaddedShape shape = Collation.checkOutput(store, indices, padding, out);
        try (DeviceBatch b = padOnDevice(store, indices, padding, shape)) {
            b.copyTo(out);
        }
    }

    @Override
    public void stack(SampleStore store, long[] indices, DType dtype, MemorySegment out) {
        checkOpen();
        long rowElems = Collation.checkStack(store, indices, dtype, out);
        int i = acquire();
        try {
            slots[i].stack(store, indices, dtype, rowElems, out);
            batches++;
            long bytes = rowElems * store.dtype().byteSize() * indices.length;
            h2dBytes += bytes;
            lastH2dBytes = bytes;
        } finally {
            pool.release(i);
        }
    }

    /**
     * Frees the slots (pinned and device memory, streams, events; each waits for its stream first) and closes
     * the context if this owns it. Every step runs even when one fails; the first failure is thrown.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        pool.close();
        RuntimeException first = null;
        for (CudaSlot s : slots) {
            if (s == null) {
                continue;
            }
            try {
                s.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (ownsContext) {
            try {
                context.close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
