package io.cubatch.plan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

/** Micro-batches, ramp-up, token budgets, data-parallel groups, global step statistics. */
class ChangingBatchSizesTest {

    /** Megatron's RampupBatchsizeNumMicroBatchesCalculator.update, transcribed: Python float division. */
    static long megatron(long consumed, long start, long incr, long rampSamples, long global) {
        long numIncrements = (global - start) / incr;
        double perIncrement = (double) rampSamples / numIncrements;
        if (consumed > rampSamples) {
            return global;
        }
        long steps = (long) (consumed / perIncrement);
        return start + steps * incr;
    }

    /**
     * A small plan with a long ramp (millions of stages, all met from the start of training) checks every stage
     * but keeps only the few its own samples reach: before, the check held 24 bytes per stage (hundreds of MiB,
     * an OutOfMemoryError and exit code 1 under a modest heap) for a plan of 100 samples.
     */
    @Test
    void checkingALongRampKeepsOnlyThePlansOwnStages() throws Exception {
        // the module does not read java.management; reflection reads every module
        Object mx = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean").invoke(null);
        java.lang.reflect.Method bytes = Class.forName("com.sun.management.ThreadMXBean")
                .getMethod("getCurrentThreadAllocatedBytes");
        long before = (long) bytes.invoke(mx);
        BatchPlan plan = BatchPlan.builder().samples(100).globalBatchSize((1L << 22) + 1).rampUp(1, 1, 1L << 40)
                .lastBatch(LastBatch.PARTIAL).build();
        long allocated = (long) bytes.invoke(mx) - before;
        assertEquals(1, plan.globalBatchSize(0));
        assertEquals(100, plan.maxSteps());
        assertTrue(allocated < (16L << 20), allocated + " bytes allocated to build a plan of 100 samples");
    }

    /** A batch is one long[]: a size the JVM cannot allocate is a PlanException, not an OutOfMemoryError. */
    @Test
    void aBatchLargerThanAnArrayIsRefusedWhenThePlanIsBuilt() {
        for (BatchPlan.Builder b : List.of(
                BatchPlan.builder().samples(1L << 40).globalBatchSize(Integer.MAX_VALUE).lastBatch(LastBatch.PARTIAL),
                BatchPlan.builder().samples(1L << 40).batchSize(Integer.MAX_VALUE - 7).lastBatch(LastBatch.PARTIAL),
                BatchPlan.builder().samples(1L << 40).microBatchSize(Integer.MAX_VALUE).lastBatch(LastBatch.PARTIAL))) {
            PlanException e = assertThrows(PlanException.class, b::build);
            assertTrue(e.getMessage().contains("samples one batch can hold"), e.getMessage());
        }
        BatchPlan ok = BatchPlan.builder().samples(1L << 40).batchSize(BatchPlan.MAX_BATCH_SIZE)
                .lastBatch(LastBatch.PARTIAL).build();
        assertEquals(BatchPlan.MAX_BATCH_SIZE, ok.batchSize());
    }

    /** A token plan left with no batches by --remainder drop is told about its budget, not about --last-batch. */
    @Test
    void anEmptyTokenPlanPointsAtTheBudget() {
        BatchPlan p = BatchPlan.builder().samples(3).worldSize(5).maxTokens(6, new long[] {3, 3, 1})
                .rankRemainder(RankRemainder.DROP).build();
        assertEquals(0, p.maxSteps());
        String w = String.join("\n", p.explain().warnings());
        assertTrue(w.contains("the plan has no batches") && w.contains("--max-tokens"), w);
        assertTrue(!w.contains("--last-batch") && !w.contains("batch size"), w);
    }

    // ---- micro-batches --------------------------------------------------------------------------------

    @Test
    void anyTwoOfGlobalMicroAndAccumulationGiveTheThird() {
        BatchPlan gm = BatchPlan.builder().samples(64).globalBatchSize(32).worldSize(2).microBatchSize(4).build();
        assertEquals(4, gm.gradientAccumulation());
        assertEquals(16, gm.batchSize());
        BatchPlan ga = BatchPlan.builder().samples(64).globalBatchSize(32).worldSize(2).gradientAccumulation(4).build();
        assertEquals(4, ga.microBatchSize());
        BatchPlan ma = BatchPlan.builder().samples(64).worldSize(2).microBatchSize(4).gradientAccumulation(4).build();
        assertEquals(32, ma.globalBatchSize());
        BatchPlan all = BatchPlan.builder().samples(64).globalBatchSize(32).worldSize(2).microBatchSize(4)
                .gradientAccumulation(4).build();
        assertEquals(4, all.gradientAccumulation());
    }

    @Test
    void inconsistentTriplesNameTheNearestValidValues() {
        PlanException e = assertThrows(PlanException.class, () -> BatchPlan.builder().samples(64).globalBatchSize(32)
                .worldSize(2).microBatchSize(4).gradientAccumulation(3).build());
        assertTrue(e.getMessage().contains("= 24") && e.getMessage().contains("--global-batch-size 24")
                && e.getMessage().contains("--grad-accumulation 4"), e.getMessage());
        e = assertThrows(PlanException.class, () -> BatchPlan.builder().samples(64).globalBatchSize(36)
                .worldSize(2).microBatchSize(4).build());
        assertTrue(e.getMessage().contains("global batch size 36 is not divisible by micro batch size 4 times"
                + " data-parallel size 2 (8): use a global batch size of 32 or 40"), e.getMessage());
        e = assertThrows(PlanException.class, () -> BatchPlan.builder().samples(64).batchSize(10)
                .gradientAccumulation(4).build());
        assertTrue(e.getMessage().contains("batch size of 8 or 12") && e.getMessage().contains("--grad-accumulation 2 or 5"),
                e.getMessage());
    }

    @Test
    void aStepIsItsMicroBatchesInOrderAndMicroBatchJOfAllRanksIsContiguous() {
        BatchPlan p = BatchPlan.builder().samples(96).globalBatchSize(24).worldSize(3).microBatchSize(2).build();
        for (long s = 0; s < p.maxSteps(); s++) {
            List<Long> seen = new ArrayList<>();
            for (int j = 0; j < 4; j++) {
                List<Long> micro = new ArrayList<>();
                for (int r = 0; r < 3; r++) {
                    assertEquals(4, p.microBatches(r, s));
                    PlannedBatch m = p.microBatch(r, s, j);
                    assertEquals(2, m.size());
                    assertArrayEquals(Arrays.copyOfRange(p.batch(r, s).samples(), 2 * j, 2 * j + 2), m.samples());
                    for (long id : m.samples()) {
                        micro.add(id);
                    }
                }
                micro.sort(null);
                for (int i = 0; i < micro.size(); i++) {
                    assertEquals(s * 24 + j * 6 + i, micro.get(i), "micro-batch " + j + " of step " + s);
                }
                seen.addAll(micro);
            }
            assertEquals(24, seen.size());
        }
    }

    @Test
    void microBatchSlicesKeepRepeatAndFillFlags() {
        PlannedBatch b = new PlannedBatch(0, 0, new long[] {1, 2, 3, 4, 5, 6}, 2, 1);   // 1..3 first, 4,5 repeat, 6 fill
        PlannedBatch m0 = BatchPlan.slice(b, 0, 4);
        assertEquals(1, m0.repeated());
        assertEquals(0, m0.filled());
        PlannedBatch m1 = BatchPlan.slice(b, 1, 4);
        assertEquals(1, m1.repeated());
        assertEquals(1, m1.filled());
        assertTrue(m1.isFill(1) && m1.isRepeat(0) && !m0.isRepeat(2) && m0.isRepeat(3));
    }

    // ---- ramp-up --------------------------------------------------------------------------------------

    /** The ramp's step sizes, walked sequentially as a trainer does: c += size each step. */
    static List<Long> walk(long n, long start, long incr, long ramp, long global) {
        List<Long> sizes = new ArrayList<>();
        for (long c = 0; c < n; c += sizes.getLast()) {
            sizes.add(megatron(c, start, incr, ramp, global));
        }
        return sizes;
    }

    @Property(tries = 300)
    void rampUpStepsFollowMegatronsFormulaStepByStep(@ForAll @IntRange(min = 1, max = 4) int w,
                                                     @ForAll @IntRange(min = 1, max = 3) int m,
                                                     @ForAll @IntRange(min = 1, max = 5) int startUnits,
                                                     @ForAll @IntRange(min = 1, max = 3) int incrUnits,
                                                     @ForAll @IntRange(min = 1, max = 6) int increments,
                                                     @ForAll @LongRange(min = 1, max = 3000) long ramp,
                                                     @ForAll @IntRange(min = 1, max = 4000) int n) {
        long unit = (long) m * w;
        long start = startUnits * unit;
        long incr = incrUnits * unit;
        long global = start + increments * incr;
        BatchPlan p = BatchPlan.builder().samples(n).globalBatchSize(global).worldSize(w).microBatchSize(m)
                .rampUp(start, incr, ramp).rankRemainder(RankRemainder.PAD).lastBatch(LastBatch.FILL).build();
        List<Long> expected = walk(n, start, incr, ramp, global);
        assertEquals(expected.size(), p.maxSteps());
        long c = 0;
        for (int s = 0; s < expected.size(); s++) {
            assertEquals(expected.get(s), p.globalBatchSize(s), "step " + s);
            assertEquals(c, p.consumedAfter(s) , "start of step " + s);
            assertEquals(s, p.stepAtConsumed(c), "step starting at " + c);
            for (int r = 0; r < w; r++) {
                assertEquals(expected.get(s) / w, p.batch(r, s).size());
                assertEquals(expected.get(s) / unit, p.microBatches(r, s));
            }
            c += expected.get(s);
        }
    }

    @Test
    void theIssuesWorkedRampUpAndMegatronsErrors() {
        BatchPlan p = BatchPlan.builder().samples(2000).globalBatchSize(128).rampUp(32, 32, 1000)
                .lastBatch(LastBatch.PARTIAL).build();
        long[] sizes = new long[(int) p.maxSteps()];
        for (int s = 0; s < sizes.length; s++) {
            sizes[s] = p.globalBatchSize(s);
        }
        assertEquals(32, sizes[10]);          // c = 320
        assertEquals(64, sizes[11]);          // c = 352
        assertEquals(96, sizes[16]);          // c = 672
        assertEquals(96, sizes[19]);          // c = 960
        assertEquals(128, sizes[20]);         // c = 1056 > 1000
        PlanException e = assertThrows(PlanException.class,
                () -> BatchPlan.builder().samples(2000).globalBatchSize(128).rampUp(30, 32, 1000).build());
        assertTrue(e.getMessage().contains("interval 98") && e.getMessage().contains("not divisible by the ramp-up increment 32"),
                e.getMessage());
        e = assertThrows(PlanException.class, () -> BatchPlan.builder().samples(2000).globalBatchSize(128)
                .worldSize(4).microBatchSize(8).rampUp(32, 16, 1000).build());
        assertTrue(e.getMessage().startsWith("ramp-up step 6 (after 192 consumed samples) has global batch size 48,"
                + " which is not divisible by micro batch size 8 times data-parallel size 4 (32)"), e.getMessage());
        assertThrows(PlanException.class, () -> BatchPlan.builder().samples(10).globalBatchSize(8).rampUp(8, 1, 10).build());
        assertThrows(PlanException.class, () -> BatchPlan.builder().samples(10).globalBatchSize(8).rampUp(16, 1, 10).build());
    }

    @Test
    void aRampUpLongerThanAnEpochContinuesInTheNextEpoch() {
        BatchPlan e0 = BatchPlan.builder().samples(100).globalBatchSize(40).rampUp(10, 10, 300)
                .lastBatch(LastBatch.PARTIAL).build();
        BatchPlan e1 = e0.forEpoch(1);
        assertEquals(megatron(100, 10, 10, 300, 40), e1.globalBatchSize(0));
        assertEquals(20, e1.globalBatchSize(0));
    }

    @Test
    void findingTheStepOfAConsumedCountIsFastOverLongRamps() {
        BatchPlan p = BatchPlan.builder().samples(1L << 40).globalBatchSize(1 << 20).rampUp(16, 16, 1L << 36)
                .lastBatch(LastBatch.PARTIAL).build();
        long t0 = System.nanoTime();
        long half = p.maxSteps() / 2;
        assertTrue(half > 500_000, "steps " + p.maxSteps());
        long c = p.consumedAfter(half);
        long s = p.stepAtConsumed(c);
        assertEquals(half, s);
        assertEquals(-1, p.stepAtConsumed(c + 1));
        assertTrue(System.nanoTime() - t0 < 50_000_000L, "random access took " + (System.nanoTime() - t0) / 1e6 + " ms");
        assertEquals(megatron(c, 16, 16, 1L << 36, 1 << 20), p.globalBatchSize(s));
    }

    // ---- elastic resume -------------------------------------------------------------------------------

    @Test
    void resumingWithAnotherWorldSizeMicroBatchAndRampUpSeesEverySampleOnce() {
        int n = 5000;
        BatchPlan first = BatchPlan.builder().samples(n).globalBatchSize(96).worldSize(2).microBatchSize(4)
                .rampUp(16, 16, 3000).shuffle(7).epoch(2).lastBatch(LastBatch.PARTIAL)
                .rankRemainder(RankRemainder.PARTIAL).build();
        Map<Long, Integer> seen = new HashMap<>();
        int done = 37;
        for (int r = 0; r < 2; r++) {
            for (long s = 0; s < done; s++) {
                for (long id : first.batch(r, s).samples()) {
                    seen.merge(id, 1, Integer::sum);
                }
            }
        }
        long consumed = first.consumedAfter(done);
        // resume with 4 ranks and micro-batches of 2: every ramp size is still a multiple of 2 x 4
        BatchPlan second = BatchPlan.builder().samples(n).globalBatchSize(96).worldSize(4).microBatchSize(2)
                .rampUp(16, 16, 3000).shuffle(7).epoch(2).resumeAt(consumed).lastBatch(LastBatch.PARTIAL)
                .rankRemainder(RankRemainder.PARTIAL).build();
        for (long s = 0; s < second.maxSteps(); s++) {
            assertEquals(first.globalBatchSize(done + s), second.globalBatchSize(s), "step " + (done + s));
            for (int r = 0; r < 4; r++) {
                if (s < second.steps(r)) {
                    for (int j = 0; j < second.microBatches(r, s); j++) {
                        for (long id : second.microBatch(r, s, j).samples()) {
                            seen.merge(id, 1, Integer::sum);
                        }
                    }
                }
            }
        }
        assertEquals(n, seen.size());
        assertTrue(seen.values().stream().allMatch(v -> v == 1), "a sample seen twice");
    }

    // ---- token budgets --------------------------------------------------------------------------------

    static long[] lengths(int n, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = 1 + (long) Math.min(2000, Math.exp(4 + rng.nextGaussian()));
        }
        return out;
    }

    @Property(tries = 100)
    void tokenBatchesFitTheBudgetAndEveryRankRunsTheSameSteps(@ForAll @IntRange(min = 1, max = 600) int n,
                                                              @ForAll @IntRange(min = 1, max = 6) int w,
                                                              @ForAll @IntRange(min = 0, max = 64) int window,
                                                              @ForAll boolean pad, @ForAll long seed) {
        long[] len = lengths(n, seed);
        long t = 2048;
        BatchPlan p = BatchPlan.builder().samples(n).worldSize(w).maxTokens(t, len).sortWindow(window)
                .rankRemainder(pad ? RankRemainder.PAD : RankRemainder.DROP).shuffle(seed).build();
        long steps = p.steps(0);
        Map<Long, Integer> firstSeen = new HashMap<>();
        long repeats = 0;
        for (int r = 0; r < w; r++) {
            assertEquals(steps, p.steps(r), "rank " + r);
            for (PlannedBatch b : p.batches(r)) {
                long longest = Arrays.stream(b.samples()).map(i -> len[(int) i]).max().orElse(0);
                assertTrue(b.size() * longest <= t, b.size() + " x " + longest + " > " + t);
                for (int i = 0; i < b.size(); i++) {
                    if (b.isRepeat(i)) {
                        repeats++;
                    } else {
                        firstSeen.merge(b.sample(i), 1, Integer::sum);
                    }
                }
            }
        }
        PlanExplanation ex = p.explain();
        assertEquals(repeats, ex.totalRepeated());
        assertEquals(n, firstSeen.size() + ex.totalDropped(), "seen + dropped");
        assertTrue(firstSeen.values().stream().allMatch(v -> v == 1));
        // resuming at any step boundary continues with the same batches
        if (steps > 1) {
            long c = p.consumedAfter(steps / 2);
            BatchPlan resumed = p.toBuilder().resumeAt(c).build();
            assertEquals(steps - steps / 2, resumed.steps(0));
            for (int r = 0; r < w; r++) {
                PlannedBatch before = p.batch(r, steps / 2);
                if (before.firstSeen() > 0) {   // PAD's repeats come from the head of each plan's own batches
                    assertArrayEquals(before.samples(), resumed.batch(r, 0).samples());
                }
            }
        }
    }

    @Test
    void aSampleOverTheBudgetAndAMissingRemainderAreClearErrors() {
        PlanException e = assertThrows(PlanException.class,
                () -> BatchPlan.builder().samples(3).maxTokens(10, new long[] {3, 11, 2}).build());
        assertTrue(e.getMessage().contains("sample 1 alone needs 11 padded tokens") && e.getMessage().contains("--max-tokens 10"),
                e.getMessage());
        e = assertThrows(PlanException.class,
                () -> BatchPlan.builder().samples(3).worldSize(2).maxTokens(4, new long[] {3, 3, 3}).build());
        assertTrue(e.getMessage().contains("the 3 batches of at most 4 tokens do not divide over 2 ranks"), e.getMessage());
        assertThrows(PlanException.class, () -> BatchPlan.builder().samples(3).batchSize(2).maxTokens(4, new long[] {1, 1, 1}).build());
    }

    @Test
    void sortingWindowsCutsPadding() {
        long[] len = lengths(4000, 3);
        BatchPlan plain = BatchPlan.builder().samples(4000).maxTokens(4096, len).shuffle(1).build();
        BatchPlan sorted = BatchPlan.builder().samples(4000).maxTokens(4096, len).sortWindow(512).shuffle(1).build();
        assertTrue(sorted.maxSteps() < plain.maxSteps(), sorted.maxSteps() + " vs " + plain.maxSteps());
        assertNotEquals(plain.configHash(), sorted.configHash());
    }

    // ---- global statistics ----------------------------------------------------------------------------

    @Test
    void globalRealTokensEqualTheSumOverRanks() {
        long[] len = lengths(777, 5);
        BatchPlan p = BatchPlan.builder().samples(777).globalBatchSize(48).worldSize(3).microBatchSize(4)
                .rampUp(12, 12, 300).rankRemainder(RankRemainder.PAD).lastBatch(LastBatch.FILL).shuffle(3).build();
        for (long s = 0; s < p.maxSteps(); s++) {
            long sum = 0;
            long microSum = 0;
            for (int r = 0; r < 3; r++) {
                for (long id : p.batch(r, s).samples()) {
                    sum += len[(int) id];
                }
                for (long id : p.microBatch(r, s, 0).samples()) {
                    microSum += len[(int) id];
                }
            }
            assertEquals(sum, p.globalRealTokens(s, i -> len[(int) i]), "step " + s);
            assertEquals(microSum, p.globalRealTokens(s, 0, i -> len[(int) i]), "micro-batch 0 of step " + s);
        }
    }

    // ---- data-parallel groups -------------------------------------------------------------------------

    @Test
    void dataParallelRanksFollowMegatronsOrderAndReplicasShareBatches() {
        for (int g = 0; g < 16; g++) {
            WorldRank w = WorldRank.resolve(OptionalInt.of(g), OptionalInt.of(16), Map.of());
            DataParallel dp = DataParallel.of(w, 2, 2);
            assertEquals(4, dp.size());
            assertEquals(g / 4, dp.rank().getAsInt(), "global rank " + g);
        }
        DataParallel dp = DataParallel.of(WorldRank.resolve(OptionalInt.of(5), OptionalInt.of(8), Map.of()), 2, 1);
        assertArrayEquals(new int[] {4, 5}, dp.globalRanks(2));
        PlanException e = assertThrows(PlanException.class,
                () -> DataParallel.of(WorldRank.resolve(OptionalInt.empty(), OptionalInt.of(6), Map.of()), 4, 1));
        assertTrue(e.getMessage().contains("world size 6 (from --world-size) is not divisible by tensor-parallel 4"
                + " x pipeline-parallel 1 = 4: run 4 or 8 ranks"), e.getMessage());
        BatchPlan p = BatchPlan.builder().samples(40).batchSize(5).dataParallel(4, 2).build();
        assertEquals(4, p.worldSize());
        assertEquals(2, p.dataParallelRank().getAsInt());
    }

    // ---- configuration hash ---------------------------------------------------------------------------

    @Test
    void theConfigHashSaysWhichPartDiffers() {
        BatchPlan a = BatchPlan.builder().samples(100).batchSize(10).build();
        BatchPlan micro = BatchPlan.builder().samples(100).batchSize(10).microBatchSize(5).build();
        assertEquals("the batch sizes (batch, micro-batch, ramp-up or token budget)",
                BatchPlan.describeHashDifference(a.configHash(), micro.configHash()));
        assertEquals("the order inside a rank (sort window or bucketing window)",
                BatchPlan.describeHashDifference(a.configHash(), a.configHash(32)));
        BatchPlan seeded = BatchPlan.builder().samples(100).batchSize(10).shuffle(1).build();
        assertTrue(BatchPlan.describeHashDifference(a.configHash(), seeded.configHash()).contains("the shuffle"));
        assertEquals("", BatchPlan.describeHashDifference(a.configHash(), a.toBuilder().build().configHash()));
    }
}
