package io.cubatch.collate;

/**
 * Per-rank scatter, the Java twin of {@code cuda/cb_scatter.cuh}. A global batch in plan order interleaves
 * the ranks: global slot {@code j} belongs to rank {@code j % W}, as position {@code j / W} of that rank's
 * batch (PyTorch's strided sharding). Rank-major order makes each rank's shard contiguous, so one
 * collation of the global batch can be split into W contiguous pieces: output row {@code r * B + i} holds
 * global row {@code i * W + r}.
 */
public final class Scatter {
    private Scatter() {
    }

    /**
     * The plan-order (global) row that rank-major row {@code o} takes, for W ranks of B rows.
     *
     * @param o the rank-major row, in {@code [0, world x localBatch)}
     * @param world the number of ranks W, at least 1
     * @param localBatch the rows per rank B, at least 1
     * @return {@code (o % B) x W + o / B}
     */
    public static long sourceRow(long o, long world, long localBatch) {
        return (o % localBatch) * world + o / localBatch;
    }

    /**
     * Reorders a plan-order global batch of {@code world * localBatch} sample indices to rank-major order.
     *
     * @param global the sample indices in plan order
     * @param world the number of ranks, at least 1
     * @param localBatch the samples per rank, at least 1
     * @return a new array in rank-major order
     * @throws IllegalArgumentException when the length is not {@code world * localBatch}
     */
    public static long[] toRankMajor(long[] global, int world, int localBatch) {
        if (world < 1 || localBatch < 1 || global.length != (long) world * localBatch) {
            throw new IllegalArgumentException("a global batch of " + global.length + " indices is not " + world
                    + " ranks x " + localBatch + ": pass world size and per-rank batch size that multiply to its length");
        }
        long[] out = new long[global.length];
        for (int o = 0; o < out.length; o++) {
            out[o] = global[(int) sourceRow(o, world, localBatch)];
        }
        return out;
    }
}
