package io.cubatch.collate;

import io.cubatch.store.SampleStore;

/**
 * Where each sequence of a packed batch goes (cuda/cb_pack.cuh): the batch's sequences, truncated to
 * {@code maxlen} when the padding allows, placed first-fit in batch order into rows of {@code maxlen}
 * timesteps; no sequence crosses a row and padding sits only at row ends. Sequences are listed in packed
 * order (row by row, then batch order), which is the order of {@code lengths} and {@code cu_seqlens}.
 * Computed on the host by every backend, so all of them place the same sequences in the same places.
 *
 * <p>Two kinds, the same answers: {@link #of} returns an independent layout that never changes;
 * {@link #reusable()} returns one that its owner {@linkplain #place places} batch after batch into the same
 * arrays, so that a steady stream of batches allocates nothing (a {@link HostSlot} owns one: the layout of its
 * packed {@link FilledBatch}, which is therefore valid only until the slot is filled again). Not thread-safe.
 */
public final class PackLayout {
    private static final int[] NO_INTS = new int[0];
    private static final long[] NO_LONGS = new long[0];

    private final boolean reusable;
    private int rows;
    private long maxlen;
    private long features;
    private int sequences;
    // packed order: sequences entries used (a reusable layout's arrays may be longer)
    private int[] batchRow = NO_INTS;   // packed order -> row of the batch (index into indices)
    private long[] first = NO_LONGS;    // store timestep of the first kept timestep
    private long[] keep = NO_LONGS;
    private long[] start = NO_LONGS;    // output timestep: row * maxlen + column
    // batch order, scratch of place()
    private long[] keepByRow = NO_LONGS;
    private long[] firstByRow = NO_LONGS;
    private int[] rowOf = NO_INTS;
    private long[] fill = NO_LONGS;
    private long realTokens;
    private int maxSeqlen;
    private PaddedShape shape;
    /** A reusable layout's shapes, by row count: one PaddedShape per (rows, maxlen, F, dtype, positions) seen. */
    private PaddedShape[] shapes = new PaddedShape[0];

    private PackLayout(boolean reusable) {
        this.reusable = reusable;
    }

    /**
     * The layout of {@code indices}; validates them and, without a truncation side, their lengths.
     *
     * @param store the samples
     * @param indices the batch's sample indices, at least one
     * @param padding the padding, with a fixed maxlen (the row length)
     * @return a new, independent layout, which never changes
     * @throws IllegalArgumentException when the padding has no maxlen (the row length)
     * @throws CollateException as {@link Collation#shape} does, or when the kept timesteps exceed 2^31 - 1
     */
    public static PackLayout of(SampleStore store, long[] indices, Padding padding) {
        return new PackLayout(false).compute(store, indices, padding);
    }

    /**
     * An empty layout for {@link #place} to fill, batch after batch, reusing its arrays (grown by doubling to
     * the largest batch placed): what per-batch code that must not allocate uses. Until the first place it has
     * no sequences and no {@link #shape()}.
     *
     * @return a new reusable layout, owned by the caller
     */
    public static PackLayout reusable() {
        return new PackLayout(true);
    }

    /**
     * Places {@code indices} into this reusable layout, replacing what it held: afterwards it answers as
     * {@link #of} would for the same arguments. Once its arrays have grown to the batch size and it has seen the
     * batch's row count, it allocates nothing. Anything read from the layout before (its {@link #shape()} aside,
     * which is a value) is stale; when it throws, the layout is left empty, as {@link #reusable()} made it.
     *
     * @param store the samples
     * @param indices the batch's sample indices, at least one
     * @param padding the padding, with a fixed maxlen (the row length)
     * @return this layout
     * @throws IllegalStateException on a layout from {@link #of}, which never changes
     * @throws IllegalArgumentException when the padding has no maxlen (the row length)
     * @throws CollateException as {@link #of} does
     */
    public PackLayout place(SampleStore store, long[] indices, Padding padding) {
        if (!reusable) {
            throw new IllegalStateException("a layout from PackLayout.of is independent and never changes: place"
                    + " batches into one from PackLayout.reusable()");
        }
        return compute(store, indices, padding);
    }

    private PackLayout compute(SampleStore store, long[] indices, Padding padding) {
        sequences = 0;
        rows = 0;
        this.maxlen = 0;
        features = 0;
        realTokens = 0;
        maxSeqlen = 0;
        shape = null;
        long maxlen = padding.maxlenOrNegative();
        if (maxlen < 0) {
            throw new IllegalArgumentException("packing needs a fixed maxlen: the row length");
        }
        Collation.validateShape(store, indices, padding);   // validates indices and lengths
        int b = indices.length;
        grow(b);
        java.util.Arrays.fill(fill, 0, b, 0);
        int rows = 0;
        long kept = 0;
        for (int k = 0; k < b; k++) {
            long n = store.length(indices[k]);
            keepByRow[k] = Collation.keep(n, maxlen);
            firstByRow[k] = store.offset(indices[k]) + Collation.skip(n, maxlen, padding);
            kept += keepByRow[k];
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
        if (kept > Integer.MAX_VALUE) {
            throw new CollateException("a packed batch of " + b + " sequences holds " + kept + " real timesteps, more"
                    + " than 2147483647, the largest offset int32 cu_seqlens can hold: pack fewer sequences per batch"
                    + " or lower maxlen");
        }
        int seq = 0;
        int longest = 0;
        for (int r = 0; r < rows; r++) {
            long col = 0;
            for (int k = 0; k < b; k++) {
                if (rowOf[k] == r) {
                    batchRow[seq] = k;
                    first[seq] = firstByRow[k];
                    keep[seq] = keepByRow[k];
                    start[seq] = (long) r * maxlen + col;
                    col += keepByRow[k];
                    longest = (int) Math.max(longest, keepByRow[k]);
                    seq++;
                }
            }
        }
        this.maxlen = maxlen;
        this.features = store.features();
        this.rows = rows;
        this.sequences = b;
        this.realTokens = kept;
        this.maxSeqlen = longest;
        this.shape = shapeOf(rows, padding);
        if (!reusable) {   // an independent layout keeps only its answers
            keepByRow = firstByRow = fill = NO_LONGS;
            rowOf = NO_INTS;
        }
        return this;
    }

    /** Room for {@code b} sequences: exactly for a layout of {@link #of}, at least doubling for a reusable one. */
    private void grow(int b) {
        if (batchRow.length >= b) {
            return;
        }
        int n = reusable ? Math.max(b, 2 * batchRow.length) : b;
        batchRow = new int[n];
        first = new long[n];
        keep = new long[n];
        start = new long[n];
        keepByRow = new long[n];
        firstByRow = new long[n];
        rowOf = new int[n];
        fill = new long[n];
    }

    /** The packed shape; a reusable layout keeps one per row count, remade only when the padding or features change. */
    private PaddedShape shapeOf(int rows, Padding padding) {
        if (!reusable) {
            return new PaddedShape(rows, maxlen, features, maxlen, padding.dtype(), padding.positions());
        }
        if (shapes.length <= rows) {
            shapes = java.util.Arrays.copyOf(shapes, Math.max(rows + 1, 2 * shapes.length));
        }
        PaddedShape s = shapes[rows];
        if (s == null || s.length() != maxlen || s.features() != features || s.dtype() != padding.dtype()
                || s.positions() != padding.positions()) {
            s = new PaddedShape(rows, maxlen, features, maxlen, padding.dtype(), padding.positions());
            shapes[rows] = s;
        }
        return s;
    }

    /**
     * [rows, maxlen(, F)] of the data, mask and positions.
     *
     * @return the packed shape
     * @throws IllegalStateException on a reusable layout that holds no batch
     */
    public PaddedShape shape() {
        if (shape == null) {
            throw new IllegalStateException("this reusable layout holds no batch: place one first");
        }
        return shape;
    }

    /**
     * Rows of the packed batch, at most the number of sequences.
     *
     * @return the row count, at least 1 (0 for a reusable layout that holds no batch)
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
        return sequences;
    }

    /**
     * The batch row (position in the index list) of packed sequence {@code k}.
     *
     * @param k the packed sequence, in {@code [0, sequences())}
     * @return its row in the index list
     * @throws IndexOutOfBoundsException when {@code k} is outside {@code [0, sequences())}
     */
    public int batchRow(int k) {
        return batchRow[java.util.Objects.checkIndex(k, sequences)];
    }

    /**
     * The store timestep of packed sequence {@code k}'s first kept timestep.
     *
     * @param k the packed sequence, in {@code [0, sequences())}
     * @return the timestep, absolute in the store's values
     * @throws IndexOutOfBoundsException when {@code k} is outside {@code [0, sequences())}
     */
    public long first(int k) {
        return first[java.util.Objects.checkIndex(k, sequences)];
    }

    /**
     * Kept timesteps of packed sequence {@code k}.
     *
     * @param k the packed sequence, in {@code [0, sequences())}
     * @return its length after truncation, in timesteps
     * @throws IndexOutOfBoundsException when {@code k} is outside {@code [0, sequences())}
     */
    public long keep(int k) {
        return keep[java.util.Objects.checkIndex(k, sequences)];
    }

    /**
     * The output timestep (row * maxlen + column) where packed sequence {@code k} starts.
     *
     * @param k the packed sequence, in {@code [0, sequences())}
     * @return the flat output timestep
     * @throws IndexOutOfBoundsException when {@code k} is outside {@code [0, sequences())}
     */
    public long start(int k) {
        return start[java.util.Objects.checkIndex(k, sequences)];
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
        while (k + 1 < sequences && start[k + 1] <= t) {
            k++;
        }
        long src = (first[k] + (t - start[k])) * features + e % features;
        return new CollateException("sample " + indices[batchRow[k]] + " (batch row " + batchRow[k] + "): value "
                + Values.describe(store.values(), store.dtype(), src) + " does not fit " + padding.dtype().cliName()
                + ": choose a wider dtype, or fix the data");
    }
}
