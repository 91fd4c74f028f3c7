package io.cubatch.plan;

import static io.cubatch.plan.PlanTestSupport.all;
import static io.cubatch.plan.PlanTestSupport.batches;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class BatchPlanTest {

    private static List<Integer> sizes(List<List<Long>> batches) {
        return batches.stream().map(List::size).toList();
    }

    // ---- the seeds' cases ----------------------------------------------------------------------------

    @Test
    void seed103SamplesBatch32PartialKeepsLastBatchOf7() {
        BatchPlan plan = BatchPlan.builder().samples(103).batchSize(32).lastBatch(LastBatch.PARTIAL).build();
        assertEquals(List.of(32, 32, 32, 7), sizes(batches(plan, 0)));
        assertEquals(List.of(96L, 97L, 98L, 99L, 100L, 101L, 102L), batches(plan, 0).get(3));
    }

    @Test
    void seed103SamplesBatch32DropKeepsThreeBatches() {
        BatchPlan plan = BatchPlan.builder().samples(103).batchSize(32).lastBatch(LastBatch.DROP).build();
        assertEquals(List.of(32, 32, 32), sizes(batches(plan, 0)));
        assertArrayEquals(LongRange.of(96, 103), plan.explain().ranks().get(0).dropped());
    }

    @Test
    void seed103SamplesBatch32WithoutPolicyNamesTheChoices() {
        PlanException e = assertThrows(PlanException.class,
                () -> BatchPlan.builder().samples(103).batchSize(32).build());
        assertTrue(e.getMessage().contains("103 samples = 3 x 32 + 7"), e.getMessage());
        assertTrue(e.getMessage().contains("partial") && e.getMessage().contains("drop")
                && e.getMessage().contains("fill"), e.getMessage());
        assertTrue(e.getMessage().contains("7 samples not seen this epoch"), e.getMessage());
    }

    @Test
    void seedGlobal32Over4RanksIs8PerRankPad() {
        BatchPlan plan = BatchPlan.builder().samples(103).globalBatchSize(32).worldSize(4)
                .rankRemainder(RankRemainder.PAD).lastBatch(LastBatch.PARTIAL).build();
        assertEquals(8, plan.batchSize());
        assertEquals(32, plan.globalBatchSize());
        for (int r = 0; r < 4; r++) {
            assertEquals(26, plan.rankSamples(r));
            assertEquals(List.of(8, 8, 8, 2), sizes(batches(plan, r)));
        }
        // 104 slots: sample 0 repeated on rank 3, last entry of its last batch
        PlannedBatch last = plan.batch(3, 3);
        assertArrayEquals(new long[] {99, 0}, last.samples());
        assertTrue(last.isRepeat(1));
        assertFalse(last.isRepeat(0));
        assertFalse(last.isFill(1));
        assertEquals(1, plan.explain().totalRepeated());
        assertEquals(0, plan.explain().totalDropped());
    }

    @Test
    void seedGlobal32Over4RanksDrop() {
        BatchPlan plan = BatchPlan.builder().samples(103).globalBatchSize(32).worldSize(4)
                .rankRemainder(RankRemainder.DROP).lastBatch(LastBatch.DROP).build();
        for (int r = 0; r < 4; r++) {
            assertEquals(25, plan.rankSamples(r));
            assertEquals(List.of(8, 8, 8), sizes(batches(plan, r)));
        }
        PlanExplanation ex = plan.explain();
        assertArrayEquals(new long[] {100, 96}, ex.ranks().get(0).dropped());
        assertArrayEquals(new long[] {99}, ex.ranks().get(3).dropped());
        assertEquals(7, ex.totalDropped());
    }

    @Test
    void seedGlobal32Over4RanksPartialWarnsAboutLastBatchOfOne() {
        BatchPlan plan = BatchPlan.builder().samples(103).globalBatchSize(32).worldSize(4)
                .rankRemainder(RankRemainder.PARTIAL).lastBatch(LastBatch.PARTIAL).build();
        assertEquals(List.of(26L, 26L, 26L, 25L), IntStream.range(0, 4).mapToObj(plan::rankSamples).toList());
        assertEquals(List.of(8, 8, 8, 1), sizes(batches(plan, 3)));
        List<String> warnings = plan.explain().warnings();
        assertEquals(1, warnings.size(), warnings.toString());
        assertTrue(warnings.get(0).contains("rank 3 has 1 sample") && warnings.get(0).contains("BatchNorm"),
                warnings.toString());
    }

    // ---- PyTorch equality on fixed vectors -------------------------------------------------------------

    @Test
    void torchTenSamplesFourRanks() {
        BatchPlan plan = BatchPlan.builder().samples(10).batchSize(3).worldSize(4)
                .rankRemainder(RankRemainder.PAD).build();
        assertEquals(List.of(List.of(List.of(0L, 4L, 8L)), List.of(List.of(1L, 5L, 9L)),
                List.of(List.of(2L, 6L, 0L)), List.of(List.of(3L, 7L, 1L))), all(plan));
    }

    @Test
    void torchFewerSamplesThanRanksRepeatsMoreThanOnce() {
        // N=3, W=8: pad 5 > 3, indices = [0,1,2] + ([0,1,2]*2)[:5]
        BatchPlan plan = BatchPlan.builder().samples(3).batchSize(1).worldSize(8)
                .rankRemainder(RankRemainder.PAD).build();
        long[] expected = {0, 1, 2, 0, 1, 2, 0, 1};
        for (int r = 0; r < 8; r++) {
            assertEquals(List.of(List.of(expected[r])), batches(plan, r), "rank " + r);
        }
        assertEquals(5, plan.explain().totalRepeated());
    }

    @Test
    void torchDropLastTenSamplesFourRanks() {
        BatchPlan plan = BatchPlan.builder().samples(10).batchSize(2).worldSize(4)
                .rankRemainder(RankRemainder.DROP).build();
        assertEquals(List.of(List.of(List.of(0L, 4L)), List.of(List.of(1L, 5L)), List.of(List.of(2L, 6L)),
                List.of(List.of(3L, 7L))), all(plan));
        assertArrayEquals(new long[] {8}, plan.explain().ranks().get(0).dropped());
        assertArrayEquals(new long[] {9}, plan.explain().ranks().get(1).dropped());
    }

    @Test
    void torchDropWithFewerSamplesThanRanksGivesAnEmptyPlanWithAWarning() {
        BatchPlan plan = BatchPlan.builder().samples(3).batchSize(1).worldSize(4)
                .rankRemainder(RankRemainder.DROP).build();
        for (int r = 0; r < 4; r++) {
            assertEquals(TorchReference.batches(3, 4, r, 1, true, false), batches(plan, r));
            assertEquals(0, plan.steps(r));
        }
        assertEquals(3, plan.explain().totalDropped());
        assertTrue(plan.explain().warnings().get(0).startsWith("the plan has no batches"));
    }

    @Test
    void exhaustiveSmallCasesEqualTorch() {
        for (int n = 1; n <= 23; n++) {
            for (int w = 1; w <= 9; w++) {
                for (int b = 1; b <= 6; b++) {
                    for (boolean samplerDrop : new boolean[] {false, true}) {
                        for (boolean loaderDrop : new boolean[] {false, true}) {
                            BatchPlan plan = BatchPlan.builder().samples(n).batchSize(b).worldSize(w)
                                    .rankRemainder(samplerDrop ? RankRemainder.DROP : RankRemainder.PAD)
                                    .lastBatch(loaderDrop ? LastBatch.DROP : LastBatch.PARTIAL).build();
                            for (int r = 0; r < w; r++) {
                                assertEquals(TorchReference.batches(n, w, r, b, samplerDrop, loaderDrop),
                                        batches(plan, r), "n=" + n + " w=" + w + " b=" + b + " r=" + r
                                                + " samplerDrop=" + samplerDrop + " loaderDrop=" + loaderDrop);
                            }
                        }
                    }
                }
            }
        }
    }

    // ---- fill --------------------------------------------------------------------------------------------

    @Test
    void fillCyclesTheLastBatchsOwnSamplesAndFlagsThem() {
        BatchPlan plan = BatchPlan.builder().samples(11).batchSize(8).lastBatch(LastBatch.FILL).build();
        PlannedBatch last = plan.batch(0, 1);
        assertArrayEquals(new long[] {8, 9, 10, 8, 9, 10, 8, 9}, last.samples());
        assertEquals(5, last.filled());
        for (int i = 0; i < 8; i++) {
            assertEquals(i >= 3, last.isFill(i), "entry " + i);
            assertEquals(i >= 3, last.isRepeat(i), "entry " + i);
        }
        assertFalse(plan.batch(0, 0).isFill(7));
    }

    @Test
    void evaluationWithRepeatsWarns() {
        BatchPlan plan = BatchPlan.builder().samples(10).batchSize(4).worldSize(4)
                .rankRemainder(RankRemainder.PAD).lastBatch(LastBatch.FILL).evaluation(true).build();
        assertTrue(plan.explain().warnings().stream().anyMatch(w -> w.contains("evaluation plan")),
                plan.explain().warnings().toString());
        BatchPlan train = BatchPlan.builder().samples(10).batchSize(4).worldSize(4)
                .rankRemainder(RankRemainder.PAD).lastBatch(LastBatch.FILL).build();
        assertTrue(train.explain().warnings().stream().noneMatch(w -> w.contains("evaluation plan")));
    }

    @Test
    void unequalStepsWarn() {
        BatchPlan plan = BatchPlan.builder().samples(10).batchSize(2).worldSize(4)
                .rankRemainder(RankRemainder.PARTIAL).lastBatch(LastBatch.PARTIAL).build();
        List<String> w = plan.explain().warnings();
        assertTrue(w.stream().anyMatch(s -> s.contains("ranks 0-1 run 2 steps, ranks 2-3 run 1 steps")), w.toString());
    }

    // ---- validation ----------------------------------------------------------------------------------------

    @Test
    void batchSizeHasNoDefault() {
        PlanException e = assertThrows(PlanException.class, () -> BatchPlan.builder().samples(10).build());
        assertTrue(e.getMessage().contains("no default"), e.getMessage());
    }

    @Test
    void batchSizeGivenTwiceIsRejected() {
        assertThrows(PlanException.class,
                () -> BatchPlan.builder().samples(10).batchSize(2).globalBatchSize(4).build());
    }

    @Test
    void nonPositiveSizesAreRejectedWithTheValue() {
        PlanException e = assertThrows(PlanException.class, () -> BatchPlan.builder().samples(10).batchSize(0).build());
        assertTrue(e.getMessage().contains("got 0"), e.getMessage());
        e = assertThrows(PlanException.class, () -> BatchPlan.builder().samples(0).batchSize(1).build());
        assertTrue(e.getMessage().contains("got 0"), e.getMessage());
        e = assertThrows(PlanException.class, () -> BatchPlan.builder().samples(Long.MAX_VALUE).batchSize(1).build());
        assertTrue(e.getMessage().contains("got " + Long.MAX_VALUE) && e.getMessage().contains("at most 2^62")
                && !e.getMessage().contains("at least one sample"), e.getMessage());
        e = assertThrows(PlanException.class,
                () -> BatchPlan.builder().samples(10).batchSize(1).worldSize(0).build());
        assertTrue(e.getMessage().contains("got 0"), e.getMessage());
        e = assertThrows(PlanException.class,
                () -> BatchPlan.builder().samples(10).batchSize(1).epoch(-1).build());
        assertTrue(e.getMessage().contains("got -1"), e.getMessage());
    }

    @Test
    void globalBatchNotDivisibleNamesBothNumbersAndTheNearestValidSizes() {
        PlanException e = assertThrows(PlanException.class,
                () -> BatchPlan.builder().samples(100).globalBatchSize(30).worldSize(4).build());
        String m = e.getMessage();
        assertTrue(m.contains("global batch size 30") && m.contains("4 ranks"), m);
        assertTrue(m.contains("use 28 (7 per rank) or 32 (8 per rank)"), m);
        e = assertThrows(PlanException.class,
                () -> BatchPlan.builder().samples(100).globalBatchSize(3).worldSize(4).build());
        assertTrue(e.getMessage().contains("use 4 (1 per rank)"), e.getMessage());
    }

    @Test
    void missingRankRemainderListsEachChoiceAndItsEffect() {
        PlanException e = assertThrows(PlanException.class,
                () -> BatchPlan.builder().samples(103).globalBatchSize(32).worldSize(4).build());
        String m = e.getMessage();
        assertTrue(m.contains("103 = 4 x 25 + 3"), m);
        assertTrue(m.contains("pad      every rank gets 26 samples; 1 repeated from the start of the epoch (sample 0)"), m);
        assertTrue(m.contains("drop     every rank gets 25 samples; 3 not seen this epoch (samples 100, 101, 102)"), m);
        assertTrue(m.contains("partial  ranks 0-2 get 26 samples, rank 3 gets 25 samples"), m);
    }

    @Test
    void noPolicyNeededWhenEverythingDivides() {
        BatchPlan plan = BatchPlan.builder().samples(64).batchSize(8).worldSize(4).build();
        assertEquals(2, plan.maxSteps());
        assertTrue(plan.rankRemainder().isEmpty());
        assertTrue(plan.explain().warnings().isEmpty());
    }

    @Test
    void resumePastTheEpochIsRejectedWithTheFix() {
        PlanException e = assertThrows(PlanException.class,
                () -> BatchPlan.builder().samples(10).batchSize(1).resumeAt(11).build());
        assertTrue(e.getMessage().contains("start epoch 1"), e.getMessage());
        BatchPlan done = BatchPlan.builder().samples(10).batchSize(1).resumeAt(10).build();
        assertEquals(0, done.maxSteps());
    }

    @Test
    void outOfRangeAccessThrows() {
        BatchPlan plan = BatchPlan.builder().samples(8).batchSize(2).worldSize(2).build();
        assertThrows(IndexOutOfBoundsException.class, () -> plan.batch(2, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> plan.batch(0, 2));
        assertThrows(IndexOutOfBoundsException.class, () -> plan.batch(-1, 0));
    }

    @Test
    void hugeSampleCountsNeedNoMemory() {
        long n = 5_000_000_000L;
        BatchPlan plan = BatchPlan.builder().samples(n).batchSize(1024).worldSize(8).shuffle(7)
                .rankRemainder(RankRemainder.PAD).lastBatch(LastBatch.DROP).build();
        long steps = plan.maxSteps();
        assertEquals(n / 8 / 1024, steps);
        PlannedBatch last = plan.batch(7, steps - 1);
        assertEquals(1024, last.size());
        for (long id : last.samples()) {
            assertTrue(id >= 0 && id < n);
        }
    }

    /** Long ranges for expected values. */
    static final class LongRange {
        static long[] of(long from, long to) {
            return java.util.stream.LongStream.range(from, to).toArray();
        }
    }
}
