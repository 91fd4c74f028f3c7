package io.cubatch.plan;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.StringJoiner;

/**
 * What a {@link BatchPlan} does, per rank, and what in it is likely to hurt a training run.
 *
 * @param ranks    one summary per rank, in rank order
 * @param warnings human-readable warnings, each naming the ranks, the numbers and the fix
 */
public record PlanExplanation(List<RankSummary> ranks, List<String> warnings) {

    /**
     * One rank's share of the plan.
     *
     * @param rank          the rank
     * @param numSamples    slots assigned to the rank (as PyTorch's {@code DistributedSampler.num_samples}),
     *                      rank-padding repeats included, before the last-batch policy
     * @param steps         batches the rank processes
     * @param fullBatches   batches with {@code batchSize} first-seen or padded entries (fill excluded)
     * @param lastBatchSize entries in the rank's last batch (fill included); 0 when it has no batch
     * @param repeated      sample ids this rank processes again (rank padding, then last-batch fill), in order
     * @param dropped       sample ids that would have gone to this rank and are not seen this epoch
     */
    public record RankSummary(int rank, long numSamples, long steps, long fullBatches, int lastBatchSize,
                              long[] repeated, long[] dropped) {
        @Override
        public boolean equals(Object o) {
            return o instanceof RankSummary s && rank == s.rank && numSamples == s.numSamples
                    && steps == s.steps && fullBatches == s.fullBatches && lastBatchSize == s.lastBatchSize
                    && Arrays.equals(repeated, s.repeated) && Arrays.equals(dropped, s.dropped);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(numSamples * 31 + steps) * 31 + rank;
        }

        @Override
        public String toString() {
            return "RankSummary[rank=" + rank + ", numSamples=" + numSamples + ", steps=" + steps
                    + ", fullBatches=" + fullBatches + ", lastBatchSize=" + lastBatchSize
                    + ", repeated=" + Arrays.toString(repeated) + ", dropped=" + Arrays.toString(dropped) + "]";
        }
    }

    /**
     * Copies both lists, so the explanation is immutable.
     *
     * @param ranks one summary per rank, in rank order
     * @param warnings the warnings
     */
    public PlanExplanation {
        ranks = List.copyOf(ranks);
        warnings = List.copyOf(warnings);
    }

    /**
     * Repeated entries over all ranks.
     *
     * @return the sum of every rank's {@code repeated} length
     */
    public long totalRepeated() {
        return ranks.stream().mapToLong(r -> r.repeated().length).sum();
    }

    /**
     * Dropped samples over all ranks.
     *
     * @return the sum of every rank's {@code dropped} length
     */
    public long totalDropped() {
        return ranks.stream().mapToLong(r -> r.dropped().length).sum();
    }

    static PlanExplanation of(BatchPlan plan) {
        int w = plan.worldSize();
        List<RankSummary> ranks = new ArrayList<>(w);
        for (int r = 0; r < w; r++) {
            long steps = plan.steps(r);
            long n = plan.rankSamples(r);
            long[] repeated = new long[0];
            int lastSize = 0;
            if (steps > 0) {
                PlannedBatch last = plan.batch(r, steps - 1);
                lastSize = last.size();
                repeated = Arrays.copyOfRange(last.samples(), last.firstSeen(), last.size());
            }
            long full = plan.fullSteps(r);
            long[] dropped = concat(plan.rankDropped(r), plan.lastBatchDropped(r));
            ranks.add(new RankSummary(r, n, steps, full, lastSize, repeated, dropped));
        }
        return new PlanExplanation(ranks, warnings(plan, ranks));
    }

    private static List<String> warnings(BatchPlan plan, List<RankSummary> ranks) {
        List<String> out = new ArrayList<>();
        int w = plan.worldSize();
        if (plan.maxSteps() == 0 && plan.maxTokens().isPresent() && plan.remaining() > 0) {
            // token batches are never partial (--last-batch is refused with a budget): only the rank policy or a
            // smaller budget (more batches) gives the ranks one
            out.add("the plan has no batches: the " + plan.remaining() + " samples make fewer token batches than the "
                    + w + " ranks, and --remainder drop drops them all; use --remainder pad or partial, or a smaller"
                    + " --max-tokens (more, smaller batches)");
            return out;
        }
        if (plan.maxSteps() == 0) {
            out.add("the plan has no batches: " + (plan.remaining() == 0
                    ? "all " + plan.samples() + " samples were consumed before the resume point; start the next epoch"
                    : plan.remaining() + " samples give no rank a " + (plan.lastBatch().orElse(null) == LastBatch.DROP
                            ? "full batch of " + plan.batchSize() + " and last-batch drop discards the rest"
                            : "sample after dropping the remainder over " + w + " ranks")
                            + "; use --remainder pad or partial, --last-batch partial or fill, or a smaller batch size"));
            return out;
        }
        if (plan.maxSteps() != plan.minSteps()) {
            out.add("ranks run different step counts (" + Remainders.describeGroups(w, plan::steps, " steps")
                    .replace(" gets ", " runs ").replace(" get ", " run ")
                    + "): a collective (all-reduce, barrier) on the longer ranks waits forever for the shorter"
                    + " ones; use --remainder pad or drop, which give every rank the same number of samples");
        }
        if (plan.batchSize() > 1 && plan.lastBatch().orElse(null) == LastBatch.PARTIAL) {
            StringJoiner ones = new StringJoiner(", ");
            for (long[] g : BatchPlan.groupRanks(w, r -> ranks.get(r).steps() > 0 ? ranks.get(r).lastBatchSize() : 0)) {
                if (g[2] == 1) {
                    ones.add(Remainders.ranks(g));
                }
            }
            if (ones.length() > 0) {
                out.add("the last batch of " + ones + " has 1 sample: BatchNorm in training mode fails on a batch"
                        + " of 1 (\"Expected more than 1 value per channel\"); use --last-batch drop or fill,"
                        + " or a batch size that leaves a larger remainder");
            }
        }
        long repeats = ranks.stream().mapToLong(r -> r.repeated().length).sum();
        if (plan.evaluation() && repeats > 0) {
            out.add("this evaluation plan processes " + repeats + " repeated entries (rank padding or fill):"
                    + " metrics count those samples twice unless entries with isRepeat() are skipped; or use"
                    + " --remainder partial and --last-batch partial, which repeat nothing");
        }
        return out;
    }

    private static long[] concat(long[] a, long[] b) {
        long[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
