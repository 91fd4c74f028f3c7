package io.cubatch.loader;

import io.cubatch.collate.PaddedBatch;
import io.cubatch.plan.PlannedBatch;
import java.lang.foreign.MemorySegment;

/**
 * One collated batch of one rank: which samples, and the tensors. Its memory is a slot of the loader's
 * ring (or, with owned copies, its own): valid until {@link #close()}, which returns the slot so the loader
 * can prefetch into it again. Using a closed batch throws {@link IllegalStateException}.
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
    private final int rows;
    private final MemorySegment cuSeqlens;
    private final long realTokens;
    private final Runnable release;
    private volatile boolean closed;

    Batch(PlannedBatch planned, PaddedBatch padded, int rows, MemorySegment cuSeqlens, long realTokens, Runnable release) {
        this.planned = planned;
        this.padded = padded;
        this.rows = rows;
        this.cuSeqlens = cuSeqlens;
        this.realTokens = realTokens;
        this.release = release;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("batch of step " + planned.step() + " is closed; its slot is being reused");
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

    /** The tensors. */
    public PaddedBatch padded() {
        checkOpen();
        return padded;
    }

    public boolean isPacked() {
        return cuSeqlens != null;
    }

    /** Rows of a packed batch; the batch size for a padded one. */
    public int rows() {
        return rows;
    }

    /** int32 [B + 1] cumulative sequence offsets of a packed batch. */
    public MemorySegment cuSeqlens() {
        checkOpen();
        if (cuSeqlens == null) {
            throw new IllegalStateException("cu_seqlens exist only for packed batches (BatchLoader.Builder.pack)");
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
        if (!closed) {
            closed = true;
            release.run();
        }
    }
}
