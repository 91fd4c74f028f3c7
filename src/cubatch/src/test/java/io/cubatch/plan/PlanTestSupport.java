package io.cubatch.plan;

import java.util.ArrayList;
import java.util.List;

final class PlanTestSupport {
    private PlanTestSupport() {
    }

    /** Rank {@code r}'s batches as lists of sample ids. */
    static List<List<Long>> batches(BatchPlan plan, int r) {
        List<List<Long>> out = new ArrayList<>();
        for (PlannedBatch b : plan.batches(r)) {
            List<Long> ids = new ArrayList<>();
            for (long id : b.samples()) {
                ids.add(id);
            }
            out.add(ids);
        }
        return out;
    }

    /** All ranks' batches: result.get(rank).get(step). */
    static List<List<List<Long>>> all(BatchPlan plan) {
        List<List<List<Long>>> out = new ArrayList<>();
        for (int r = 0; r < plan.worldSize(); r++) {
            out.add(batches(plan, r));
        }
        return out;
    }

    /**
     * The global order the plan walks, rebuilt from its batches: entry (step s, rank r, position i) is
     * slot {@code (s*B + i)*W + r}. Only first-seen entries are placed; unfilled slots stay -1.
     */
    static long[] slotsFromBatches(BatchPlan plan) {
        long[] out = new long[(int) (plan.samples() - plan.resumeAt())];
        java.util.Arrays.fill(out, -1);
        int w = plan.worldSize();
        int bs = plan.batchSize();
        for (int r = 0; r < w; r++) {
            for (PlannedBatch b : plan.batches(r)) {
                for (int i = 0; i < b.firstSeen(); i++) {
                    long slot = (b.step() * bs + i) * w + r;
                    out[(int) slot] = b.sample(i);
                }
            }
        }
        return out;
    }
}
