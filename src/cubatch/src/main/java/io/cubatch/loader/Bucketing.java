package io.cubatch.loader;

import io.cubatch.plan.BatchPlan;
import io.cubatch.plan.PlannedBatch;
import io.cubatch.store.SampleStore;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Length bucketing per rank: the samples of each window of {@code window} consecutive full batches of a
 * rank (window x batch size samples) are sorted by length, cut into batches of neighbours, and the
 * window's batches are shuffled, seeded by (plan seed, epoch, rank, window). Every rank keeps its own
 * samples and its step count, so collectives stay in step; the result depends only on the plan and the
 * store, so resume and every backend see the same batches. The rank's last batch is left as planned
 * when it is partial or holds repeats or fill.
 */
final class Bucketing {
    private final BatchPlan plan;
    private final SampleStore store;
    private final int window;

    Bucketing(BatchPlan plan, SampleStore store, int window) {
        if (window < 1) {
            throw new IllegalArgumentException("bucket window must be at least 1 batch, got " + window);
        }
        if ((long) window * plan.batchSize() >= 1 << 24) {
            throw new IllegalArgumentException("bucket window of " + window + " batches of " + plan.batchSize()
                    + " is too large: keep window x batch size below 16,777,216 samples");
        }
        this.plan = plan;
        this.store = store;
        this.window = window;
    }

    /** Full, clean batches of the rank that bucketing may reorder. */
    private long bucketable(int rank) {
        long steps = plan.steps(rank);
        if (steps == 0) {
            return 0;
        }
        PlannedBatch last = plan.batch(rank, steps - 1);
        long full = plan.globalBatchSize(steps - 1) / plan.worldSize();
        return last.size() == full && last.firstSeen() == last.size() ? steps : steps - 1;
    }

    PlannedBatch batch(int rank, long step) {
        long clean = bucketable(rank);
        if (step >= clean) {
            return plan.batch(rank, step);
        }
        long w = step / window;
        long from = w * window;
        long to = Math.min(from + window, clean);
        int batches = (int) (to - from);
        int[] sizes = new int[batches];
        int[] offsets = new int[batches + 1];
        for (int i = 0; i < batches; i++) {
            sizes[i] = (int) (plan.globalBatchSize(from + i) / plan.worldSize());   // steps grow with a ramp-up
            offsets[i + 1] = offsets[i] + sizes[i];
        }
        int n = offsets[batches];
        long[] ids = new long[n];
        for (long s = from; s < to; s++) {
            int i = (int) (s - from);
            System.arraycopy(plan.batch(rank, s).samples(), 0, ids, offsets[i], sizes[i]);
        }
        long[] keys = new long[n];
        for (int i = 0; i < n; i++) {
            keys[i] = (Math.min(store.length(ids[i]), (1L << 39) - 1) << 24) | i;   // by length, then position
        }
        Arrays.sort(keys);
        int[] order = new int[batches];
        for (int i = 0; i < batches; i++) {
            order[i] = i;
        }
        long seed = plan.seed().orElse(0) * 0x9E3779B97F4A7C15L ^ plan.epoch() * 0xBF58476D1CE4E5B9L
                ^ (rank + 1L) * 0x94D049BB133111EBL ^ w;
        SplittableRandom rng = new SplittableRandom(seed);
        for (int i = batches - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            if (sizes[i] != sizes[j]) {
                continue;   // a ramp-up's steps of different sizes keep their places; equal sizes are shuffled
            }
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        int chunk = order[(int) (step - from)];
        int b = sizes[chunk];
        long[] out = new long[b];
        for (int i = 0; i < b; i++) {
            out[i] = ids[(int) (keys[offsets[chunk] + i] & 0xFFFFFF)];
        }
        return new PlannedBatch(rank, step, out, 0, 0);
    }
}
