package io.cubatch.collate;

import io.cubatch.store.SampleStore;

/**
 * Where each sequence of a packed batch goes (cuda/cb_pack.cuh): the batch's sequences, truncated to
 * {@code maxlen} when the padding allows, placed first-fit in batch order into rows of {@code maxlen}
 * timesteps; no sequence crosses a row and padding sits only at row ends. Sequences are listed in packed
 * order (row by row, then batch order), which is the order of {@code lengths} and {@code cu_seqlens}.
 * Computed on the host by every backend, so all of them place the same sequences in the same places.
 */
public final class PackLayout {
    private final int rows;
    private final long maxlen;
    private final long features;
    private final int[] batchRow;   // packed order -> row of the batch (index into indices)
    private final long[] first;     // store timestep of the first kept timestep
    private final long[] keep;
    private final long[] start;     // output timestep: row * maxlen + column
    private final long realTokens;
    private final int maxSeqlen;
    private final PaddedShape shape;

    private PackLayout(int rows, long maxlen, long features, int[] batchRow, long[] first, long[] keep, long[] start,
                       PaddedShape shape) {
        this.rows = rows;
        this.maxlen = maxlen;
        this.features = features;
        this.batchRow = batchRow;
        this.first = first;
        this.keep = keep;
        this.start = start;
        long total = 0;
        int longest = 0;
        for (long k : keep) {
            total += k;
            longest = (int) Math.max(longest, k);
        }
        this.realTokens = total;
        this.maxSeqlen = longest;
        this.shape = shape;
    }

    /**
     * The layout of {@code indices}; validates them and, without a truncation side, their lengths.
     *
     * @param store the samples
     * @param indices the batch's sample indices, at least one
     * @param padding the padding, with a fixed maxlen (the row length)
     * @return the layout
     * @throws IllegalArgumentException when the padding has no maxlen (the row length)
     * @throws CollateException as {@link Collation#shape} does, or when the kept timesteps exceed 2^31 - 1
     */
    public static PackLayout of(SampleStore store, long[] indices, Padding padding) {
        long maxlen = padding.maxlen().orElseThrow(() -> new IllegalArgumentException(
                "packing needs a fixed maxlen: the row length"));
        PaddedShape full = Collation.shape(store, indices, padding);   // validates indices and lengths
        int b = indices.length;
        long[] keepByRow = new long[b];
        long[] firstByRow = new long[b];
        int[] rowOf = new int[b];
        long[] fill = new long[b];
        int rows = 0;
        for (int k = 0; k < b; k++) {
            long n = store.length(indices[k]);
            keepByRow[k] = Math.min(n, maxlen);
            long skip = n > maxlen && padding.truncation().orElseThrow() == PadSide.PRE ? n - maxlen : 0;
            firstByRow[k] = store.offset(indices[k]) + skip;
            int r = 0;
            while (r < rows && fill[r] + keepByRow[k] > maxlen) {
                r++;
            }
            if (r == rows) {
                rows++;
            }
            rowOf[k] = r;
            fill[r] += keepByRow[k];
        }
        long kept = java.util.Arrays.stream(keepByRow).sum();
        if (kept > Integer.MAX_VALUE) {
            throw new CollateException("a packed batch of " + b + " sequences holds " + kept + " real timesteps, more"
                    + " than 2147483647, the largest offset int32 cu_seqlens can hold: pack fewer sequences per batch"
                    + " or lower maxlen");
        }
        int[] batchRow = new int[b];
        long[] first = new long[b];
        long[] keep = new long[b];
        long[] start = new long[b];
        int seq = 0;
        for (int r = 0; r < rows; r++) {
            long col = 0;
            for (int k = 0; k < b; k++) {
                if (rowOf[k] == r) {
                    batchRow[seq] = k;
                    first[seq] = firstByRow[k];
                    keep[seq] = keepByRow[k];
                    start[seq] = (long) r * maxlen + col;
                    col += keepByRow[k];
                    seq++;
                }
            }
        }
        PaddedShape shape = new PaddedShape(rows, maxlen, full.features(), maxlen, padding.dtype(), padding.positions());
        return new PackLayout(rows, maxlen, full.features(), batchRow, first, keep, start, shape);
    }

    /**
     * [rows, maxlen(, F)] of the data, mask and positions.
     *
     * @return the packed shape
     */
    public PaddedShape shape() {
        return shape;
    }

    /**
     * Rows of the packed batch, at most the number of sequences.
     *
     * @return the row count, at least 1
     */
    public int rows() {
        return rows;
    }

    /**
     * The row length: the padding's maxlen.
     *
     * @return maxlen, in timesteps
     */
    public long maxlen() {
        return maxlen;
    }

    /**
     * Elements per timestep.
     *
     * @return the store's features
     */
    public long features() {
        return features;
    }

    /**
     * Sequences, S (= the batch size).
     *
     * @return the number of sequences
     */
    public int sequences() {
        return batchRow.length;
    }

    /**
     * The batch row (position in the index list) of packed sequence {@code k}.
     *
     * @param k the packed sequence, in {@code [0, sequences())}
     * @return its row in the index list
     */
    public int batchRow(int k) {
        return batchRow[k];
    }

    /**
     * The store timestep of packed sequence {@code k}'s first kept timestep.
     *
     * @param k the packed sequence, in {@code [0, sequences())}
     * @return the timestep, absolute in the store's values
     */
    public long first(int k) {
        return first[k];
    }

    /**
     * Kept timesteps of packed sequence {@code k}.
     *
     * @param k the packed sequence, in {@code [0, sequences())}
     * @return its length after truncation, in timesteps
     */
    public long keep(int k) {
        return keep[k];
    }

    /**
     * The output timestep (row * maxlen + column) where packed sequence {@code k} starts.
     *
     * @param k the packed sequence, in {@code [0, sequences())}
     * @return the flat output timestep
     */
    public long start(int k) {
        return start[k];
    }

    /**
     * Real (kept) timesteps over all sequences.
     *
     * @return the sum of {@link #keep(int)}, at most 2^31 - 1
     */
    public long realTokens() {
        return realTokens;
    }

    /**
     * The longest kept sequence.
     *
     * @return the longest {@link #keep(int)}, in timesteps
     */
    public int maxSeqlen() {
        return maxSeqlen;
    }

    /**
     * The error for output element {@code e} (flat over [rows, maxlen, F]) whose value does not fit, as every
     * backend reports it.
     *
     * @param store the samples
     * @param indices the batch's sample indices
     * @param padding the padding
     * @param e the element's flat index over {@code [rows, maxlen, F]}, inside a packed sequence
     * @return the exception, naming the sample, its row and the value; not thrown
     */
    public CollateException valueDoesNotFit(SampleStore store, long[] indices, Padding padding, long e) {
        long t = e / features;
        int k = 0;
        while (k + 1 < start.length && start[k + 1] <= t) {
            k++;
        }
        long src = (first[k] + (t - start[k])) * features + e % features;
        return new CollateException("sample " + indices[batchRow[k]] + " (batch row " + batchRow[k] + "): value "
                + Values.describe(store.values(), store.dtype(), src) + " does not fit " + padding.dtype().cliName()
                + ": choose a wider dtype, or fix the data");
    }
}
