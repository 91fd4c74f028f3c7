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
    private volatile boolean closed;

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

    /** The plan's batch: step, rank, sample ids, and which entries are repeats or fill. */
    public PlannedBatch planned() {
        checkOpen();
        return planned;
    }

    public long step() {
        return planned.step();
    }

    public int rank() {
        return planned.rank();
    }

    /** The tensors of a host batch. @throws IllegalStateException for a device batch ({@link #deviceTensors()}) */
    public PaddedBatch padded() {
        checkOpen();
        if (padded == null) {
            throw new IllegalStateException("batch of step " + planned.step() + " is on device " + device.device()
                    + ": use deviceTensors()");
        }
        return padded;
    }

    /** [B, L(, F)] (rows and maxlen when packed), dtype, positions. */
    public PaddedShape shape() {
        return padded != null ? padded.shape() : device.shape();
    }

    /** Whether the tensors are on a device. */
    public boolean onDevice() {
        return device != null;
    }

    /** The GPU the tensors are on, -1 for a host batch. */
    public int device() {
        return device == null ? -1 : device.device();
    }

    /** The tensors of a device batch. @throws IllegalStateException for a host batch ({@link #padded()}) */
    public DeviceTensors deviceTensors() {
        checkOpen();
        if (device == null) {
            throw new IllegalStateException("batch of step " + planned.step() + " is in host memory: use padded()");
        }
        return device;
    }

    /** Bytes this batch sent host to device (0 for a host batch). */
    public long h2dBytes() {
        return device == null ? 0 : device.h2dBytes();
    }

    public boolean isPacked() {
        return maxSeqlen >= 0;
    }

    /** The longest sequence of a packed batch (FlashAttention's max_seqlen). */
    public int maxSeqlen() {
        if (maxSeqlen < 0) {
            throw new IllegalStateException("max_seqlen exists only for packed batches (BatchLoader.Builder.pack)");
        }
        return maxSeqlen;
    }

    /** Rows of a packed batch; the batch size for a padded one. */
    public int rows() {
        return rows;
    }

    /**
     * int32 [B + 1] cumulative sequence offsets of a packed host batch (a packed device batch has them at
     * {@code deviceTensors().cuSeqlens()}).
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

    /** Real (non-padding) tokens in the batch. */
    public long realTokens() {
        return realTokens;
    }

    public boolean isClosed() {
        return closed;
    }

    /** Returns the batch's memory to the loader; idempotent. */
    @Override
    public void close() {
        if (closedFlag.compareAndSet(false, true)) {   // once, even when two threads close it at the same time
            closed = true;
            release.run();
        }
    }
}
