package io.cubatch.plan;

import java.util.Arrays;
import java.util.function.LongUnaryOperator;

/**
 * Batches of at most {@code maxTokens} padded tokens (rows x padded row length), cut from a plan's global
 * order, and dealt to the ranks. The rule, deterministic and independent of the world size:
 * <ol>
 *   <li>The <b>token order</b>: the epoch's global order, with each window of {@code sortWindow}
 *       consecutive positions (counted from the start of the epoch) sorted by real length (then by
 *       position) when a sort window is set: length bucketing that keeps the shuffle's randomness across
 *       windows.</li>
 *   <li>From the resume point on, positions are cut greedily into <b>batches</b>: a batch takes the next
 *       sample while (rows + 1) x padded length of its longest sample stays within {@code maxTokens}
 *       (the padded length is the padding's row length: the longest, truncated to maxlen, rounded up to
 *       the multiple, or maxlen when fixed). With a sort window, batches do not cross windows.</li>
 *   <li>Batch {@code j} goes to rank {@code j % W} at step {@code j / W}. When the number of batches
 *       {@code K} is not a multiple of {@code W}, the {@link RankRemainder} decides, as it does for
 *       samples: {@code PAD} gives the ranks short of a batch at the last step a repeat of batch
 *       {@code 0, 1, ...} (every entry flagged {@code isRepeat}), {@code DROP} drops the last {@code K % W}
 *       batches, {@code PARTIAL} leaves those ranks one step short (warned: collectives hang).</li>
 * </ol>
 * So every rank runs the same number of steps (with PAD or DROP), each batch holds at most
 * {@code maxTokens} padded tokens, and a plan resumed at a batch boundary continues with the same batches.
 * The boundaries are computed when the plan is built: one pass over the lengths, 8 bytes per batch (and,
 * with a sort window, 8 bytes per sample for the sorted order).
 */
final class TokenBudget {
    final long maxTokens;
    final int sortWindow;
    /** Positions (relative to the resume point, in the token order) where each batch starts, then the end. */
    final long[] bounds;
    /** The token order's global position at each epoch position, when sorted; null when not. */
    final long[] sorted;
    final long longestRows;

    private TokenBudget(long maxTokens, int sortWindow, long[] bounds, long[] sorted, long longestRows) {
        this.maxTokens = maxTokens;
        this.sortWindow = sortWindow;
        this.bounds = bounds;
        this.sorted = sorted;
        this.longestRows = longestRows;
    }

    /** Number of batches before the rank policy. */
    long batches() {
        return bounds.length - 1;
    }

    /**
     * Cuts the batches of the positions {@code resumeAt .. n-1}.
     *
     * @param order      the global order: epoch position to sample id
     * @param length     a sample's real length after truncation
     * @param rowLength  a batch's padded row length given its longest real length
     */
    static TokenBudget cut(long n, long resumeAt, long maxTokens, int sortWindow, LongUnaryOperator order,
                           LongUnaryOperator length, LongUnaryOperator rowLength) {
        if (n > Integer.MAX_VALUE - 8) {
            throw new PlanException("a token budget plan reads every sample's length when it is built: at most "
                    + (Integer.MAX_VALUE - 8) + " samples, got " + n);
        }
        long[] sorted = null;
        if (sortWindow > 0) {
            sorted = new long[(int) n];
            long[] keys = new long[Math.min(sortWindow, (int) n)];
            for (long w0 = 0; w0 < n; w0 += sortWindow) {
                int k = (int) Math.min(sortWindow, n - w0);
                for (int i = 0; i < k; i++) {
                    long len = Math.min(length.applyAsLong(order.applyAsLong(w0 + i)), (1L << 39) - 1);
                    keys[i] = len << 24 | i;
                }
                Arrays.sort(keys, 0, k);
                for (int i = 0; i < k; i++) {
                    sorted[(int) (w0 + i)] = w0 + (keys[i] & 0xFFFFFF);
                }
            }
        }
        long[] bounds = new long[16];
        int nb = 0;
        long rows = 0;
        long longest = 0;
        long mostRows = 0;
        for (long p = resumeAt; p < n; p++) {
            long pos = sorted == null ? p : sorted[(int) p];
            long id = order.applyAsLong(pos);
            long len = length.applyAsLong(id);
            long own = rowLength.applyAsLong(len);
            if (own > maxTokens) {
                throw new PlanException("sample " + id + " alone needs " + own + " padded tokens (length " + len
                        + "), more than --max-tokens " + maxTokens + ": raise --max-tokens to at least " + own
                        + ", or cap it with --maxlen and --truncating");
            }
            long l = Math.max(longest, len);
            boolean windowStart = sorted != null && p % sortWindow == 0;
            if (rows == 0 || windowStart || Math.multiplyHigh(rows + 1, rowLength.applyAsLong(l)) != 0
                    || (rows + 1) * rowLength.applyAsLong(l) > maxTokens) {
                if (nb == bounds.length) {
                    bounds = Arrays.copyOf(bounds, 2 * nb);
                }
                bounds[nb++] = p - resumeAt;
                mostRows = Math.max(mostRows, rows);
                rows = 0;
                longest = 0;
                l = len;
            }
            rows++;
            longest = l;
        }
        mostRows = Math.max(mostRows, rows);
        if (nb == bounds.length) {
            bounds = Arrays.copyOf(bounds, nb + 1);
        }
        bounds[nb++] = n - resumeAt;
        return new TokenBudget(maxTokens, sortWindow, Arrays.copyOf(bounds, nb), sorted, mostRows);
    }

    /** The epoch position of token-order position {@code p}. */
    long position(long p) {
        return sorted == null ? p : sorted[(int) p];
    }
}
