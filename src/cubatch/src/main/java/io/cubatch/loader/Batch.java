package io.cubatch.loader;

import io.cubatch.collate.DeviceTensors;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import io.cubatch.plan.PlannedBatch;
import java.lang.foreign.MemorySegment;

/**
 * One collated batch of one rank: which samples, and the tensors. Its memory is a slot of the loader's
 * ring (or, with owned copies, its own): valid until {@link #close()}, which returns the slot so the loader
 * can prefetch into it again. Using a closed batch throws {@link IllegalStateException}.
 *
 * <p>Host batches (the java and native backends) hold their tensors in {@link #padded()}. Device batches (the
 * cuda backend) hold them in {@link #deviceTensors()}: device addresses of data, lengths, mask and positions,
 * already complete on the device when handed out; for the cuda backend,
 * {@code io.cubatch.cuda.CudaTensors.of(batch.deviceTensors())} gives the stream and ready event.
 * {@link #close()} hands the slot back at once, so the device work you enqueued on the batch must be finished
 * by then (your stream synchronised), unless you first call {@code releaseAfter(yourStream)}: then the slot's
 * next batch waits on the device for that point of your stream, and you need not wait on the host.
 *
 * <p>Padded batches: {@link #padded()} holds data {@code [B, L(, F)]}, lengths, attention mask (and
 * positions). Packed batches ({@link #isPacked()}): {@code padded().data()} is {@code [rows(), maxlen]}
 * with sequences laid out row by row and padding only at row ends, {@code lengths} holds each sequence's
 * length in packed order, {@code positions} restart at 0 for every sequence, and {@link #cuSeqlens()} is
 * int32 {@code [B + 1]}: sequence k's tokens are the k-th run of real tokens, cumulative offsets over the
 * real tokens (FlashAttention's varlen convention).
 *
 * <p>DLPack: {@link #toDLPack(Tensor)} hands one tensor to a native framework without a copy. The slot then
 * returns to the loader only when the batch is closed <em>and</em> every exported tensor's deleter has run, so
 * a trainer may close the batch in Java right after handing it over. Closing the loader while exports are
 * alive frees nothing until their deleters have run (see {@link BatchLoader#close()}).
 */
public final class Batch implements AutoCloseable {
    private final PlannedBatch planned;
    private final PaddedBatch padded;
    private final DeviceTensors device;
    private final int rows;
    private final MemorySegment cuSeqlens;
    private final long realTokens;
    private final Runnable release;
    private final java.util.function.BooleanSupplier ringFreed;
    private final int maxSeqlen;
    private final java.util.concurrent.atomic.AtomicBoolean closedFlag = new java.util.concurrent.atomic.AtomicBoolean();
    /** 1 for the batch itself until closed, plus one per DLPack export until its deleter runs. */
    private final java.util.concurrent.atomic.AtomicInteger holds = new java.util.concurrent.atomic.AtomicInteger(1);

    /** The tensors of a batch, for {@link #toDLPack}. */
    public enum Tensor {
        /** {@code [B, L]} (or {@code [B, L, F]} with features; {@code [rows, maxlen]} packed) of the output dtype. */
        DATA,
        /** int32 {@code [B]}: each sequence's length after truncation (packed: in packed order). */
        LENGTHS,
        /** uint8 {@code [B, L]}: 1 for a real token. */
        ATTENTION_MASK,
        /** int32 {@code [B, L]}: position ids, when the padding asked for them. */
        POSITION_IDS,
        /** int32 {@code [B + 1]}: a packed batch's cumulative sequence offsets. */
        CU_SEQLENS
    }
    private volatile boolean closed;
    /** The loader's count of live DLPack exports (null for a batch that owns its memory). */
    private BatchLoader.Exports exports;
    private int microBatch;
    private int microBatches = 1;
    private java.util.function.LongSupplier globalTokens = () -> -1;
    private java.util.function.LongSupplier globalMicroTokens = () -> -1;
    private long globalTokensValue = -1;
    private long globalMicroTokensValue = -1;

    Batch(PlannedBatch planned, PaddedBatch padded, DeviceTensors device, int rows, MemorySegment cuSeqlens,
          long realTokens, Runnable release, java.util.function.BooleanSupplier ringFreed, int maxSeqlen) {
        this.ringFreed = ringFreed;
        this.maxSeqlen = maxSeqlen;
        if ((padded == null) == (device == null)) {
            throw new IllegalArgumentException("a batch is on the host or on a device");
        }
        this.planned = planned;
        this.padded = padded;
        this.device = device;
        this.rows = rows;
        this.cuSeqlens = cuSeqlens;
        this.realTokens = realTokens;
        this.release = release;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("batch of step " + planned.step() + " is closed; its slot is being reused");
        }
        if (ringFreed.getAsBoolean()) {
            throw new IllegalStateException("batch of step " + planned.step() + " belongs to a closed loader: its memory"
                    + " is freed");
        }
    }

    /** Set by the loader whose ring holds this batch: its exports keep the ring alive past the loader's close. */
    Batch exportsCountedBy(BatchLoader.Exports counter) {
        this.exports = counter;
        return this;
    }

    /** Set by the loader: which micro-batch this is, and how to count the step's tokens over all ranks. */
    void global(int microBatch, int microBatches, java.util.function.LongSupplier stepTokens,
                java.util.function.LongSupplier microTokens) {
        this.microBatch = microBatch;
        this.microBatches = microBatches;
        this.globalTokens = stepTokens;
        this.globalMicroTokens = microTokens;
    }

    /**
     * This batch's index among its step's micro-batches on this rank (0 without micro-batches).
     *
     * @return the micro-batch index, in {@code [0, microBatches())}
     */
    public int microBatch() {
        return microBatch;
    }

    /**
     * Micro-batches of this rank at this step (1 without micro-batches); the last one ends the step.
     *
     * @return the number of micro-batches, at least 1
     */
    public int microBatches() {
        return microBatches;
    }

    /**
     * Real tokens (after truncation) of this step over all ranks and all micro-batches, computed from the
     * plan and the store's lengths without any communication: the denominator of a loss normalised over
     * the global step (what trainers otherwise get with an all-reduce of the attention mask's sum). Repeats
     * and fill count, as they are in the batches. Computed once, on first call: O(global batch).
     *
     * @return the token count
     */
    public long globalRealTokens() {
        if (globalTokensValue < 0) {
            globalTokensValue = globalTokens.getAsLong();
        }
        return globalTokensValue;
    }

    /**
     * Real tokens of this micro-batch index over all ranks (equal to {@link #globalRealTokens()} without
     * micro-batches).
     *
     * @return the token count
     */
    public long globalMicroBatchRealTokens() {
        if (globalMicroTokensValue < 0) {
            globalMicroTokensValue = globalMicroTokens.getAsLong();
        }
        return globalMicroTokensValue;
    }

    /**
     * The plan's batch: step, rank, sample ids, and which entries are repeats or fill.
     *
     * @return the planned batch
     * @throws IllegalStateException when the batch is closed
     */
    public PlannedBatch planned() {
        checkOpen();
        return planned;
    }

    /**
     * The step this batch belongs to, counted from the start of the plan; readable after close.
     *
     * @return the step
     */
    public long step() {
        return planned.step();
    }

    /**
     * The rank this batch belongs to; readable after close.
     *
     * @return the rank
     */
    public int rank() {
        return planned.rank();
    }

    /**
     * The tensors of a host batch, in the slot's memory (or the batch's own, with owned copies).
     *
     * @return the tensors; valid until the batch is closed
     * @throws IllegalStateException when the batch is closed, or on a device ({@link #deviceTensors()})
     */
    public PaddedBatch padded() {
        checkOpen();
        if (padded == null) {
            throw new IllegalStateException("batch of step " + planned.step() + " is on device " + device.device()
                    + ": use deviceTensors()");
        }
        return padded;
    }

    /**
     * [B, L(, F)] (rows and maxlen when packed), dtype, positions.
     *
     * @return the shape; readable after close
     */
    public PaddedShape shape() {
        return padded != null ? padded.shape() : device.shape();
    }

    /**
     * Whether the tensors are on a device.
     *
     * @return true for a device batch
     */
    public boolean onDevice() {
        return device != null;
    }

    /**
     * The GPU the tensors are on, -1 for a host batch.
     *
     * @return the CUDA device ordinal, or -1
     */
    public int device() {
        return device == null ? -1 : device.device();
    }

    /**
     * The tensors of a device batch.
     *
     * @return the device tensors; their addresses are valid until the batch is closed
     * @throws IllegalStateException when the batch is closed, or in host memory ({@link #padded()})
     */
    public DeviceTensors deviceTensors() {
        checkOpen();
        if (device == null) {
            throw new IllegalStateException("batch of step " + planned.step() + " is in host memory: use padded()");
        }
        return device;
    }

    /**
     * Bytes this batch sent host to device (0 for a host batch).
     *
     * @return the byte count
     */
    public long h2dBytes() {
        return device == null ? 0 : device.h2dBytes();
    }

    /**
     * Whether the batch is packed ({@link BatchLoader.Builder#pack}) rather than padded.
     *
     * @return true when packed
     */
    public boolean isPacked() {
        return maxSeqlen >= 0;
    }

    /**
     * The longest sequence of a packed batch (FlashAttention's max_seqlen).
     *
     * @return max_seqlen, in tokens
     * @throws IllegalStateException for a padded batch
     */
    public int maxSeqlen() {
        if (maxSeqlen < 0) {
            throw new IllegalStateException("max_seqlen exists only for packed batches (BatchLoader.Builder.pack)");
        }
        return maxSeqlen;
    }

    /**
     * Rows of a packed batch; the batch size for a padded one.
     *
     * @return the row count
     */
    public int rows() {
        return rows;
    }

    /**
     * int32 [B + 1] cumulative sequence offsets of a packed host batch (a packed device batch has them at
     * {@code deviceTensors().cuSeqlens()}).
     *
     * @return the segment of {@code 4 (B + 1)} bytes, in the slot's memory; valid until the batch is closed
     * @throws IllegalStateException when the batch is closed, not packed, or on a device
     */
    public MemorySegment cuSeqlens() {
        checkOpen();
        if (maxSeqlen < 0) {
            throw new IllegalStateException("cu_seqlens exist only for packed batches (BatchLoader.Builder.pack)");
        }
        if (cuSeqlens == null) {
            throw new IllegalStateException("batch of step " + planned.step() + " is on device " + device.device()
                    + ": its cu_seqlens are at deviceTensors().cuSeqlens()");
        }
        return cuSeqlens;
    }

    /**
     * Real (non-padding) tokens in the batch.
     *
     * @return the token count, after truncation
     */
    public long realTokens() {
        return realTokens;
    }

    /**
     * Whether {@link #close()} has been called.
     *
     * @return true once closed
     */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Exports one tensor as a DLPack 1.x {@code DLManagedTensorVersioned*} ({@link DLPack} has the layout), for
     * {@code at::fromDLPackVersioned} and the like: {@code kDLCPU} for a host batch, {@code kDLCUDA} with the GPU
     * ordinal for a device batch (complete on the device when handed out), C-contiguous, writable. The consumer
     * owns the struct until it calls its deleter, once, from any thread; the batch's slot goes back to the
     * loader only after that deleter and {@link #close()} have both happened.
     *
     * @param tensor which tensor to export
     * @return the new {@code DLManagedTensorVersioned}, a segment of its 80 bytes; the consumer frees it by calling
     *     its deleter
     * @throws IllegalStateException when the batch is closed, or the tensor does not exist in this batch
     *                               (position ids without {@code positions}, cu_seqlens of a padded batch)
     */
    public java.lang.foreign.MemorySegment toDLPack(Tensor tensor) {
        for (int h = holds.get(); ; h = holds.get()) {
            if (h == 0 || closed) {
                checkOpen();   // throws: closed
                throw new IllegalStateException("batch of step " + planned.step() + " is closed");
            }
            if (holds.compareAndSet(h, h + 1)) {   // never from 0: a released slot stays released
                break;
            }
        }
        BatchLoader.Exports counter = exports;
        if (counter != null) {
            counter.enter();   // before checkOpen(): a loader closing now either sees this export or is seen closed
        }
        Runnable deleted = counter == null ? this::releaseHold : () -> {
            try {
                releaseHold();
            } finally {
                counter.exit();
            }
        };
        boolean exported = false;
        try {
            checkOpen();
            PaddedShape s = shape();
            long rowsOut = isPacked() ? rows : s.batch();
            long sequences = planned.samples().length;
            long[] dims;
            io.cubatch.store.DType dtype = io.cubatch.store.DType.INT32;
            long address;
            switch (tensor) {
                case DATA -> {
                    dims = s.features() > 1 ? new long[] {rowsOut, s.length(), s.features()}
                            : new long[] {rowsOut, s.length()};
                    dtype = s.dtype();
                    address = padded != null ? padded.data().address() : device.data();
                }
                case LENGTHS -> {
                    dims = new long[] {isPacked() ? sequences : s.batch()};
                    address = padded != null ? padded.lengths().address() : device.lengths();
                }
                case ATTENTION_MASK -> {
                    dims = new long[] {rowsOut, s.length()};
                    dtype = io.cubatch.store.DType.UINT8;
                    address = padded != null ? padded.attentionMask().address() : device.attentionMask();
                }
                case POSITION_IDS -> {
                    if (!s.positions()) {
                        throw new IllegalStateException("batch of step " + planned.step() + " has no position ids:"
                                + " ask for them with Padding.Builder.positions(true)");
                    }
                    dims = new long[] {rowsOut, s.length()};
                    address = padded != null ? padded.positions().address() : device.positions();
                }
                case CU_SEQLENS -> {
                    if (!isPacked()) {
                        throw new IllegalStateException("cu_seqlens exist only for packed batches (BatchLoader.Builder.pack)");
                    }
                    dims = new long[] {sequences + 1};
                    address = cuSeqlens != null ? cuSeqlens.address() : device.cuSeqlens();
                }
                default -> throw new AssertionError(tensor);
            }
            long elements = 1;
            for (long d : dims) {
                elements *= d;
            }
            java.lang.foreign.MemorySegment m = DLPack.export(elements == 0 ? 0 : address,
                    device == null ? DLPack.KDL_CPU : DLPack.KDL_CUDA, device == null ? 0 : device.device(), dtype, dims,
                    false, deleted, tensor.name().toLowerCase(java.util.Locale.ROOT) + " of step "
                            + planned.step());
            exported = true;
            return m;
        } finally {
            if (!exported) {
                deleted.run();
            }
        }
    }

    /** Returns the batch's memory to the loader (once every DLPack export is deleted too); idempotent. */
    @Override
    public void close() {
        if (closedFlag.compareAndSet(false, true)) {   // once, even when two threads close it at the same time
            closed = true;
            releaseHold();
        }
    }

    private void releaseHold() {
        if (holds.decrementAndGet() == 0) {
            release.run();
        }
    }
}
