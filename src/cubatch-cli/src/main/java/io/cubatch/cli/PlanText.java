package io.cubatch.cli;

import io.cubatch.plan.BatchPlan;
import io.cubatch.plan.PlanExplanation;
import io.cubatch.plan.PlanExplanation.RankSummary;
import io.cubatch.plan.PlannedBatch;
import io.cubatch.plan.ShuffleOrder;
import io.cubatch.plan.WorldRank;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.List;
import java.util.StringJoiner;

/** The human-readable {@code cubatch plan}: a summary, a per-rank table, a sample of batches, warnings. */
final class PlanText {
    /** Batches listed per rank: the first few and the last few. */
    static final int HEAD_STEPS = 3;
    static final int TAIL_STEPS = 2;
    /** Ranks whose batches are listed when all ranks are shown. */
    static final int LISTED_RANKS = 4;
    /** Sample ids shown per batch. */
    static final int SHOWN_IDS = 16;

    private PlanText() {
    }

    static void write(BatchPlan plan, WorldRank world, PrintWriter out) {
        PlanExplanation ex = plan.explain();
        out.printf("plan: %d samples, %d rank%s x batch %d = global batch %d%n", plan.samples(), plan.worldSize(),
                plan.worldSize() == 1 ? "" : "s", plan.batchSize(), plan.globalBatchSize());
        if (plan.maxTokens().isPresent()) {
            out.printf("tokens: batches of at most %d padded tokens%s, dealt round-robin to the ranks (batch j to rank"
                    + " j %% %d at step j / %d); batch %d above is the most rows of any batch%n",
                    plan.maxTokens().getAsLong(), plan.sortWindow() > 0 ? " (windows of " + plan.sortWindow()
                            + " samples sorted by length)" : "", plan.worldSize(), plan.worldSize(), plan.batchSize());
        }
        if (plan.microBatchSize() < plan.batchSize()) {
            out.printf("micro-batches: %d per rank per step of %d samples (gradient accumulation %d)%n",
                    plan.gradientAccumulation(), plan.microBatchSize(), plan.gradientAccumulation());
        }
        if (plan.rampUp().isPresent()) {
            var r = plan.rampUp().get();
            StringJoiner sizes = new StringJoiner(", ");
            long steps = plan.maxSteps();
            for (long s = 0; s < Math.min(steps, 12); s++) {
                sizes.add(Long.toString(plan.globalBatchSize(s)));
            }
            out.printf("ramp-up: global batch from %d by %d over %d samples (Megatron): steps' global batches %s%s%n",
                    r.start(), r.increment(), r.samples(), sizes, steps > 12 ? ", ... (--format json lists all)" : "");
        }
        out.printf("world: %s%n", world.source());
        out.printf("order: %s, epoch %d%s%n",
                plan.shuffled() ? "shuffled (" + ShuffleOrder.ALGORITHM + ", seed " + plan.seed().getAsLong() + ")"
                        : "unshuffled (PyTorch DistributedSampler order)",
                plan.epoch(), plan.resumeAt() > 0 ? ", resumed after " + plan.resumeAt() + " consumed samples" : "");
        out.printf("policies: remainder %s, last batch %s%n",
                plan.rankRemainder().map(r -> r.cliName()).orElse("none needed"),
                plan.lastBatch().map(l -> l.cliName()).orElse("none needed"));
        out.printf("totals: %d repeated, %d dropped%n%n", ex.totalRepeated(), ex.totalDropped());

        List<RankSummary> shown = ex.ranks().stream()
                .filter(r -> world.rank().isEmpty() || world.rank().getAsInt() == r.rank()).toList();
        out.printf("%6s %12s %10s %10s %6s %9s %8s%n", "rank", "samples", "steps", "full", "last", "repeated", "dropped");
        for (RankSummary r : shown) {
            out.printf("%6d %12d %10d %10d %6d %9d %8d%n", r.rank(), r.numSamples(), r.steps(), r.fullBatches(),
                    r.lastBatchSize(), r.repeated().length, r.dropped().length);
        }
        out.println();
        int listed = 0;
        for (RankSummary r : shown) {
            if (listed++ == LISTED_RANKS) {
                out.printf("(batches of %d more ranks not listed: pass --rank R, or --format json for all)%n%n",
                        shown.size() - LISTED_RANKS);
                break;
            }
            writeBatches(plan, r, out);
        }
        out.println("legend: * repeats a sample to even out the ranks (pad), + fills the last batch (fill)");
        if (!ex.warnings().isEmpty()) {
            out.println();
            out.println("warnings:");
            for (String w : ex.warnings()) {
                out.println("  ! " + w);
            }
        }
    }

    private static void writeBatches(BatchPlan plan, RankSummary r, PrintWriter out) {
        out.printf("rank %d:%n", r.rank());
        long steps = r.steps();
        for (long s = 0; s < steps; s++) {
            if (steps > HEAD_STEPS + TAIL_STEPS && s == HEAD_STEPS) {
                out.printf("  ... %d more steps ...%n", steps - HEAD_STEPS - TAIL_STEPS);
                s = steps - TAIL_STEPS;
            }
            out.printf("  step %d: %s%n", s, format(plan.batch(r.rank(), s)));
        }
        if (steps == 0) {
            out.println("  (no batches)");
        }
        if (r.dropped().length > 0) {
            out.printf("  dropped: %s%n", Arrays.toString(r.dropped()));
        }
        out.println();
    }

    static String format(PlannedBatch b) {
        StringJoiner j = new StringJoiner(", ", "[", "]");
        int n = b.size();
        for (int i = 0; i < n; i++) {
            if (n > SHOWN_IDS && i == SHOWN_IDS - 4) {
                j.add("... " + (n - SHOWN_IDS + 1) + " more");
                i = n - 3;
            }
            j.add(b.sample(i) + (b.isFill(i) ? "+" : b.isRepeat(i) ? "*" : ""));
        }
        return j.toString();
    }
}
