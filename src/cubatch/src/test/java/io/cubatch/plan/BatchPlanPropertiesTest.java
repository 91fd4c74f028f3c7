package io.cubatch.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/** Invariants of {@link BatchPlan} over random sizes, world sizes, policies, seeds and epochs. */
class BatchPlanPropertiesTest {

    /** A random plan configuration; every policy set, so build() never asks for one. */
    record Config(int n, int w, int b, RankRemainder rr, LastBatch lb, Long seed, int epoch) {
        BatchPlan.Builder builder() {
            BatchPlan.Builder builder = BatchPlan.builder().samples(n).worldSize(w).batchSize(b)
                    .rankRemainder(rr).lastBatch(lb).epoch(epoch);
            return seed == null ? builder : builder.shuffle(seed);
        }

        BatchPlan plan() {
            return builder().build();
        }
    }

    @Provide
    Arbitrary<Config> configs() {
        return Combinators.combine(
                Arbitraries.integers().between(1, 400),
                Arbitraries.integers().between(1, 12),
                Arbitraries.integers().between(1, 40),
                Arbitraries.of(RankRemainder.class),
                Arbitraries.of(LastBatch.class),
                Arbitraries.longs().injectNull(0.3),
                Arbitraries.integers().between(0, 5)).as(Config::new);
    }

    @Property
    void everySampleIsSeenOnceApartFromAccountedRepeatsAndDrops(@ForAll("configs") Config c) {
        BatchPlan plan = c.plan();
        PlanExplanation ex = plan.explain();
        Map<Long, Integer> firstSeen = new HashMap<>();
        long repeatedEntries = 0;
        long entries = 0;
        for (int r = 0; r < c.w(); r++) {
            for (PlannedBatch b : plan.batches(r)) {
                for (int i = 0; i < b.size(); i++) {
                    long id = b.sample(i);
                    assertTrue(id >= 0 && id < c.n(), "sample id " + id + " outside [0, " + c.n() + ")");
                    entries++;
                    if (b.isRepeat(i)) {
                        repeatedEntries++;
                    } else {
                        firstSeen.merge(id, 1, Integer::sum);
                    }
                }
            }
        }
        java.util.Set<Long> dropped = new java.util.HashSet<>();
        for (PlanExplanation.RankSummary s : ex.ranks()) {
            for (long id : s.dropped()) {
                assertTrue(dropped.add(id), "sample " + id + " reported dropped twice");
            }
        }
        for (long id = 0; id < c.n(); id++) {
            int seen = firstSeen.getOrDefault(id, 0);
            assertEquals(dropped.contains(id) ? 0 : 1, seen, "sample " + id + " first-seen count, " + c);
        }
        assertEquals(ex.totalRepeated(), repeatedEntries, c.toString());
        assertEquals(c.n() - ex.totalDropped() + ex.totalRepeated(), entries, c.toString());
        if (c.rr() != RankRemainder.DROP && c.lb() != LastBatch.DROP) {
            assertEquals(0, ex.totalDropped(), c.toString());
        }
        if (c.rr() != RankRemainder.PAD && c.lb() != LastBatch.FILL) {
            assertEquals(0, ex.totalRepeated(), c.toString());
        }
    }

    @Property
    void batchesHaveTheBatchSizeExceptAPartialLastOne(@ForAll("configs") Config c) {
        BatchPlan plan = c.plan();
        for (int r = 0; r < c.w(); r++) {
            long steps = plan.steps(r);
            for (PlannedBatch b : plan.batches(r)) {
                if (b.step() < steps - 1 || c.lb() != LastBatch.PARTIAL) {
                    assertEquals(c.b(), b.size(), c + " rank " + r + " step " + b.step());
                } else {
                    assertTrue(b.size() >= 1 && b.size() <= c.b());
                }
            }
        }
    }

    @Property
    void padAndDropGiveEveryRankTheSameStepCount(@ForAll("configs") Config c) {
        BatchPlan plan = c.plan();
        if (c.rr() == RankRemainder.PARTIAL) {
            assertTrue(plan.maxSteps() - plan.minSteps() <= 1, c.toString());
            return;
        }
        for (int r = 0; r < c.w(); r++) {
            assertEquals(plan.steps(0), plan.steps(r), c + " rank " + r);
        }
        assertTrue(plan.explain().warnings().stream().noneMatch(s -> s.contains("different step counts")));
    }

    @Property
    void plansAreDeterministic(@ForAll("configs") Config c) {
        assertEquals(PlanTestSupport.all(c.plan()), PlanTestSupport.all(c.plan()));
    }

    @Property
    void resumingAtACheckpointYieldsTheTailOfTheUninterruptedPlan(
            @ForAll("configs") Config c, @ForAll @IntRange(min = 0, max = 1000) int stepSeed) {
        BatchPlan plan = c.plan();
        long s = stepSeed % (plan.maxSteps() + 1);
        long consumed = plan.consumedAfter(s);
        BatchPlan resumed = c.builder().resumeAt(consumed).build();
        for (int r = 0; r < c.w(); r++) {
            assertEquals(Math.max(0, plan.steps(r) - s), resumed.steps(r), c + " rank " + r + " after " + s);
            for (long t = 0; t < resumed.steps(r); t++) {
                PlannedBatch expected = plan.batch(r, s + t);
                PlannedBatch actual = resumed.batch(r, t);
                assertArrayEquals(expected.samples(), actual.samples(), c + " rank " + r + " step " + (s + t));
                assertEquals(expected.repeated(), actual.repeated());
                assertEquals(expected.filled(), actual.filled());
            }
        }
    }

    @Property
    void theGlobalOrderDoesNotDependOnTheWorldSize(
            @ForAll @IntRange(min = 1, max = 300) int n, @ForAll @IntRange(min = 1, max = 17) int b,
            @ForAll("seeds") Long seed, @ForAll @IntRange(min = 0, max = 3) int epoch) {
        long[] reference = null;
        for (int w : new int[] {1, 2, 3, 8}) {
            BatchPlan.Builder builder = BatchPlan.builder().samples(n).worldSize(w).batchSize(b).epoch(epoch)
                    .rankRemainder(RankRemainder.PARTIAL).lastBatch(LastBatch.PARTIAL);
            if (seed != null) {
                builder.shuffle(seed);
            }
            long[] order = PlanTestSupport.slotsFromBatches(builder.build());
            if (reference == null) {
                reference = order;
                assertEquals(n, java.util.Arrays.stream(order).distinct().filter(x -> x >= 0).count());
            } else {
                assertArrayEquals(reference, order, "world size " + w);
            }
        }
    }

    @Property
    void resumingWithAnotherWorldSizeKeepsTheGlobalOrder(
            @ForAll("configs") Config c, @ForAll @IntRange(min = 1, max = 12) int newWorld,
            @ForAll @IntRange(min = 0, max = 1000) int stepSeed) {
        BatchPlan plan = c.plan();
        long consumed = plan.consumedAfter(stepSeed % (plan.maxSteps() + 1));
        BatchPlan resumed = BatchPlan.builder().samples(c.n()).worldSize(newWorld).batchSize(c.b())
                .epoch(c.epoch()).resumeAt(consumed).rankRemainder(RankRemainder.PARTIAL)
                .lastBatch(LastBatch.PARTIAL).shuffle(c.seed() == null ? 0 : c.seed()).build();
        BatchPlan same = BatchPlan.builder().samples(c.n()).worldSize(1).batchSize(1).epoch(c.epoch())
                .shuffle(c.seed() == null ? 0 : c.seed()).build();
        long[] order = PlanTestSupport.slotsFromBatches(resumed);
        for (int i = 0; i < order.length; i++) {
            assertEquals(same.globalOrder(consumed + i), order[i], "position " + (consumed + i));
        }
    }

    @Property
    void unshuffledPlansEqualPyTorch(@ForAll @IntRange(min = 1, max = 300) int n,
                                     @ForAll @IntRange(min = 1, max = 16) int w,
                                     @ForAll @IntRange(min = 1, max = 40) int b,
                                     @ForAll boolean samplerDropLast, @ForAll boolean loaderDropLast) {
        BatchPlan plan = BatchPlan.builder().samples(n).worldSize(w).batchSize(b)
                .rankRemainder(samplerDropLast ? RankRemainder.DROP : RankRemainder.PAD)
                .lastBatch(loaderDropLast ? LastBatch.DROP : LastBatch.PARTIAL).build();
        for (int r = 0; r < w; r++) {
            assertEquals(TorchReference.batches(n, w, r, b, samplerDropLast, loaderDropLast),
                    PlanTestSupport.batches(plan, r), "rank " + r);
        }
    }

    @Provide
    Arbitrary<Long> seeds() {
        return Arbitraries.longs().injectNull(0.3);
    }
}
