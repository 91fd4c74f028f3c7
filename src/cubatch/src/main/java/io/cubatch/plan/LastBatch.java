package io.cubatch.plan;

import java.util.Locale;

/**
 * What happens to a rank's last batch when its samples are not a multiple of the batch size. Required
 * whenever some rank has such a remainder; cubatch never picks one silently.
 *
 * <p>Worked example: 10 samples (0..9), 4 ranks, batch size 2, unshuffled, {@link RankRemainder#PAD}, so
 * the ranks hold [0,4,8] [1,5,9] [2,6,0] [3,7,1] before batching.
 * <table class="striped">
 *   <caption>10 samples, 4 ranks, batch 2</caption>
 *   <thead><tr><th>policy</th><th>rank 0</th><th>rank 1</th><th>rank 2</th><th>rank 3</th><th>effect</th></tr></thead>
 *   <tbody>
 *   <tr><td>{@code PARTIAL}</td><td>[0,4] [8]</td><td>[1,5] [9]</td><td>[2,6] [0]</td><td>[3,7] [1]</td>
 *       <td>2 steps; the last batch has 1 sample (warning: BatchNorm)</td></tr>
 *   <tr><td>{@code DROP}</td><td>[0,4]</td><td>[1,5]</td><td>[2,6]</td><td>[3,7]</td>
 *       <td>1 step; each rank's last sample is dropped</td></tr>
 *   <tr><td>{@code FILL}</td><td>[0,4] [8,8+]</td><td>[1,5] [9,9+]</td><td>[2,6] [0,0+]</td><td>[3,7] [1,1+]</td>
 *       <td>2 steps, all full; fill entries (+) are flagged {@link PlannedBatch#isFill(int)}</td></tr>
 *   </tbody>
 * </table>
 * This table is asserted by {@code PolicyTablesTest}.
 */
public enum LastBatch {
    /** Keep the smaller last batch: PyTorch {@code DataLoader(drop_last=False)}, DALI {@code PARTIAL}. */
    PARTIAL,
    /** Drop the incomplete last batch: PyTorch {@code DataLoader(drop_last=True)}, DALI {@code DROP}. */
    DROP,
    /**
     * Complete the last batch to the full batch size for static shapes, by cycling through that batch's own
     * samples (for [a,b,c] and batch 8: a,b,c,a,b,c,a,b). Each added entry is flagged
     * {@link PlannedBatch#isFill(int)} so losses and metrics can ignore it. The rule uses only the batch
     * itself, so a resumed plan fills exactly like the uninterrupted one.
     */
    FILL;

    /**
     * The lower-case name used by the CLI and the JSON output.
     *
     * @return {@code partial}, {@code drop} or {@code fill}
     */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
