package io.cubatch.plan;

import java.util.List;
import java.util.StringJoiner;
import java.util.function.IntToLongFunction;

/** The messages for a missing remainder policy: the choices, and what each would do to this dataset. */
final class Remainders {
    /** At most this many sample ids are listed in a message. */
    static final int MAX_IDS = 8;

    private Remainders() {
    }

    static String missingRankRemainder(BatchPlan.Builder b, long remaining) {
        int w = b.worldSize();
        long rem = remaining % w;
        long pad = w - rem;
        // A plan that repeats, drops or keeps nothing, just to read the global order and the rank counts.
        BatchPlan padded = b.copy().rankRemainder(RankRemainder.PAD).lastBatch(LastBatch.PARTIAL).build();
        BatchPlan dropped = b.copy().rankRemainder(RankRemainder.DROP).lastBatch(LastBatch.PARTIAL).build();
        BatchPlan partial = b.copy().rankRemainder(RankRemainder.PARTIAL).lastBatch(LastBatch.PARTIAL).build();
        long[] padIds = new long[(int) Math.min(pad, MAX_IDS)];
        for (int i = 0; i < padIds.length; i++) {
            padIds[i] = padded.globalOrder(i % b.samples());
        }
        long[] dropIds = new long[(int) Math.min(rem, MAX_IDS)];
        for (int i = 0; i < dropIds.length; i++) {
            dropIds[i] = padded.globalOrder(b.samples() - rem + i);
        }
        String what = remaining == b.samples()
                ? remaining + " samples"
                : remaining + " remaining samples (of " + b.samples() + ", after resuming at " + (b.samples() - remaining) + ")";
        return what + " do not divide over " + w + " ranks (" + remaining + " = " + w + " x " + remaining / w
                + " + " + rem + "): choose what happens to the " + rem + " left over"
                + " (RankRemainder; CLI --remainder pad|drop|partial):\n"
                + "  pad      every rank gets " + padded.rankSamples(0) + " samples; " + pad
                + " repeated from the start of the epoch (" + ids(padIds, pad) + ")"
                + " [PyTorch DistributedSampler(drop_last=False)]\n"
                + "  drop     every rank gets " + dropped.rankSamples(0) + " samples; " + rem
                + " not seen this epoch (" + ids(dropIds, rem) + ") [DistributedSampler(drop_last=True)]\n"
                + "  partial  " + describeGroups(w, partial::rankSamples, " samples")
                + "; nothing repeated or dropped, but ranks may run different step counts"
                + " and then collectives (all-reduce) hang";
    }

    static String missingLastBatch(BatchPlan plan) {
        if (plan.rampUp().isPresent()) {
            int w = plan.worldSize();
            StringJoiner lasts = new StringJoiner(", ");
            for (long[] g : BatchPlan.groupRanks(w, r -> plan.partialLast(r)
                    ? plan.batch(r, plan.steps(r) - 1).size() : 0)) {
                if (g[2] != 0) {
                    lasts.add(g[2] + (g[2] == 1 ? " sample on " : " samples on ") + ranks(g));
                }
            }
            return "the last step of the ramped-up plan is not full (" + lasts + "): choose what happens to the"
                    + " last batch (LastBatch; CLI --last-batch partial|drop|fill): partial keeps it, drop drops it,"
                    + " fill completes it by repeating its own samples (flagged isFill)";
        }
        int w = plan.worldSize();
        int b = plan.batchSize();
        IntToLongFunction n = plan::rankSamples;
        StringJoiner shape = new StringJoiner("; ");
        for (long[] g : BatchPlan.groupRanks(w, n)) {
            shape.add(ranks(g) + ": " + g[2] + " samples = " + g[2] / b + " x " + b + " + " + g[2] % b);
        }
        long droppedTotal = 0;
        for (int r = 0; r < w; r++) {
            droppedTotal += plan.incompleteTail(r).length;
        }
        StringJoiner lasts = new StringJoiner(", ");
        for (long[] g : BatchPlan.groupRanks(w, r -> n.applyAsLong(r) % b)) {
            if (g[2] != 0) {
                lasts.add(g[2] + (g[2] == 1 ? " sample on " : " samples on ") + ranks(g));
            }
        }
        long stepsKeep = BatchPlan.ceilDiv(plan.rankSamples(0), b);
        long stepsDrop = plan.rankSamples(0) / b;
        return "the per-rank samples do not fill whole batches of " + b + " (" + shape + "): choose what happens"
                + " to the last batch (LastBatch; CLI --last-batch partial|drop|fill):\n"
                + "  partial  keep the smaller last batch (" + lasts + "); up to " + stepsKeep
                + " steps [PyTorch DataLoader(drop_last=False)]\n"
                + "  drop     drop it: " + droppedTotal + " samples not seen this epoch over all ranks; up to "
                + stepsDrop + " steps [DataLoader(drop_last=True)]\n"
                + "  fill     complete it to " + b + " by repeating its own samples, flagged isFill"
                + " for losses and metrics; up to " + stepsKeep + " steps, every batch full";
    }

    /** "ranks 0-2 get 26 samples, rank 3 gets 25 samples". */
    static String describeGroups(int worldSize, IntToLongFunction value, String unit) {
        List<long[]> groups = BatchPlan.groupRanks(worldSize, value);
        StringJoiner out = new StringJoiner(", ");
        for (long[] g : groups) {
            out.add(ranks(g) + (g[0] == g[1] ? " gets " : " get ") + g[2] + unit);
        }
        return out.toString();
    }

    /** "rank 3" or "ranks 0-2". */
    static String ranks(long[] group) {
        return group[0] == group[1] ? "rank " + group[0] : "ranks " + group[0] + "-" + group[1];
    }

    /** "sample 0" or "samples 100, 101, 102" or "samples 1, 2, ... (and 40 more)". */
    static String ids(long[] shown, long total) {
        StringJoiner j = new StringJoiner(", ");
        for (long id : shown) {
            j.add(Long.toString(id));
        }
        String more = total > shown.length ? ", ... (" + (total - shown.length) + " more)" : "";
        return (total == 1 ? "sample " : "samples ") + j + more;
    }
}
