package io.cubatch.plan;

import java.util.Locale;

/**
 * What happens to the samples left over when the number of samples is not a multiple of the world size.
 * Required whenever such a remainder exists; cubatch never picks one silently.
 *
 * <p>Worked example: 10 samples (0..9), 4 ranks, batch size 2, unshuffled, {@link LastBatch#PARTIAL}.
 * Rank r takes every 4th sample starting at r (PyTorch's strided {@code indices[r:total:4]}).
 * <table class="striped">
 *   <caption>10 samples, 4 ranks, batch 2</caption>
 *   <thead><tr><th>policy</th><th>rank 0</th><th>rank 1</th><th>rank 2</th><th>rank 3</th><th>effect</th></tr></thead>
 *   <tbody>
 *   <tr><td>{@code PAD}</td><td>[0,4] [8]</td><td>[1,5] [9]</td><td>[2,6] [0*]</td><td>[3,7] [1*]</td>
 *       <td>12 slots: samples 0 and 1 repeated (*); every rank runs 2 steps</td></tr>
 *   <tr><td>{@code DROP}</td><td>[0,4]</td><td>[1,5]</td><td>[2,6]</td><td>[3,7]</td>
 *       <td>8 slots: samples 8 and 9 dropped this epoch; every rank runs 1 step</td></tr>
 *   <tr><td>{@code PARTIAL}</td><td>[0,4] [8]</td><td>[1,5] [9]</td><td>[2,6]</td><td>[3,7]</td>
 *       <td>nothing repeated or dropped; ranks 0-1 run 2 steps, ranks 2-3 run 1 (warning: collectives hang)</td></tr>
 *   </tbody>
 * </table>
 * This table is asserted by {@code PolicyTablesTest}.
 */
public enum RankRemainder {
    /**
     * Repeat samples from the head of the epoch's order until the total divides by the world size:
     * PyTorch {@code DistributedSampler(drop_last=False)}. Every rank gets {@code ceil(n / W)} samples;
     * the repeats are marked ({@link PlannedBatch#isRepeat(int)}).
     */
    PAD,
    /**
     * Drop the tail of the epoch's order so the total divides: PyTorch {@code DistributedSampler(drop_last=True)}.
     * Every rank gets {@code floor(n / W)} samples; up to {@code W - 1} samples are not seen this epoch.
     */
    DROP,
    /**
     * No repeats and no drops: ranks get {@code floor(n / W)} or one more. Ranks can end up with different
     * step counts, which makes collective operations (all-reduce) on the longer ranks wait forever; the plan
     * warns when that happens.
     */
    PARTIAL;

    /**
     * The lower-case name used by the CLI and the JSON output.
     *
     * @return {@code pad}, {@code drop} or {@code partial}
     */
    public String cliName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
