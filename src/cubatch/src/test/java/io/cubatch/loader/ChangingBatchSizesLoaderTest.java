package io.cubatch.loader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.collate.PadSide;
import io.cubatch.collate.Padding;
import io.cubatch.plan.BatchPlan;
import io.cubatch.plan.LastBatch;
import io.cubatch.plan.RankRemainder;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The loader with micro-batches, ramp-up, token budgets, and the checkpoint's configuration hash. */
class ChangingBatchSizesLoaderTest {
    static SampleStore corpus;

    @BeforeAll
    static void makeCorpus() {
        corpus = SyntheticCorpus.generate(2_003, 40, 400, 1000, 11);
    }

    @AfterAll
    static void freeCorpus() {
        corpus.close();
    }

    static Padding padding() {
        return Padding.builder().side(PadSide.POST).dtype(DType.INT32).maxlen(300).truncation(PadSide.POST).build();
    }

    static BatchPlan.Builder ramped(int world, int micro) {
        return BatchPlan.builder().samples(corpus.size()).globalBatchSize(96).worldSize(world).microBatchSize(micro)
                .rampUp(16, 16, 1200).shuffle(5).epoch(0).rankRemainder(RankRemainder.PARTIAL)
                .lastBatch(LastBatch.PARTIAL);
    }

    static BatchLoader loader(BatchPlan p, int rank) {
        return BatchLoader.builder().store(corpus).plan(p).rank(rank).padding(padding()).backend("java").prefetch(3)
                .workers(2).build();
    }

    @Test
    void aCheckpointFromAnotherBucketingWindowIsRefusedNamingIt() {
        BatchPlan p = BatchPlan.builder().samples(corpus.size()).batchSize(8).shuffle(1)
                .lastBatch(LastBatch.PARTIAL).build();
        LoaderState state;
        try (BatchLoader l = BatchLoader.builder().store(corpus).plan(p).padding(padding()).bucket(4).build()) {
            Iterator<Batch> it = l.epoch(0);
            for (int i = 0; i < 3; i++) {
                it.next().close();
            }
            state = l.state();
        }
        try (BatchLoader l = BatchLoader.builder().store(corpus).plan(p).padding(padding()).bucket(8).build()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> l.resume(state));
            assertTrue(e.getMessage().contains("the order inside a rank (sort window or bucketing window)"), e.getMessage());
        }
        BatchPlan micro = p.toBuilder().microBatchSize(4).build();
        try (BatchLoader l = BatchLoader.builder().store(corpus).plan(micro).padding(padding()).bucket(4).build()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> l.resume(state));
            assertTrue(e.getMessage().contains("the batch sizes") && e.getMessage().contains("--resume-at"), e.getMessage());
        }
    }

    @Test
    void microBatchesComeInStepOrderAndCheckpointsFallOnStepStarts() {
        BatchPlan p = ramped(2, 4).build();
        List<long[]> all = new ArrayList<>();
        try (BatchLoader l = loader(p, 1)) {
            Iterator<Batch> it = l.epoch(0);
            long step = 0;
            int j = 0;
            while (it.hasNext()) {
                try (Batch b = it.next()) {
                    assertEquals(step, b.step());
                    assertEquals(j, b.microBatch());
                    assertEquals(p.microBatches(1, step), b.microBatches());
                    assertArrayEquals(p.microBatch(1, step, j).samples(), b.planned().samples());
                    assertTrue(b.padded().shape().batch() <= 4);
                    all.add(b.planned().samples());
                    if (++j == b.microBatches()) {
                        j = 0;
                        step++;
                    }
                    if (step == 5 && j == 1) {
                        assertEquals(p.consumedAfter(5), l.state().consumedSamples(), "mid-step: the step's start");
                    }
                }
            }
            assertEquals(p.steps(1), step);
        }
        try (BatchLoader l = loader(p, 1)) {
            Iterator<Batch> it = l.resume(new LoaderState(0, p.consumedAfter(7), p.configHash()));
            int at = (int) p.microBatchesBefore(7);
            while (it.hasNext()) {
                try (Batch b = it.next()) {
                    assertArrayEquals(all.get(at++), b.planned().samples());
                }
            }
            assertEquals(all.size(), at);
        }
    }

    @Test
    void globalRealTokensOnEachBatchEqualTheSumOverRanks() {
        for (int bucket : new int[] {0, 3}) {
            BatchPlan p = ramped(4, 2).lastBatch(LastBatch.FILL).rankRemainder(RankRemainder.PAD).build();
            assertTrue(p.globalBatchSize(0) < p.globalBatchSize(p.maxSteps() - 1), "the ramp is in this epoch");
            Map<Long, Long> stepSum = new HashMap<>();
            Map<String, Long> microSum = new HashMap<>();
            Map<Long, Long> claimed = new HashMap<>();
            Map<String, Long> microClaimed = new HashMap<>();
            for (int r = 0; r < 4; r++) {
                try (BatchLoader l = BatchLoader.builder().store(corpus).plan(p).rank(r).padding(padding()).bucket(bucket)
                        .backend("java").build()) {
                    Iterator<Batch> it = l.epoch(0);
                    while (it.hasNext()) {
                        try (Batch b = it.next()) {
                            stepSum.merge(b.step(), b.realTokens(), Long::sum);
                            microSum.merge(b.step() + "/" + b.microBatch(), b.realTokens(), Long::sum);
                            Long before = claimed.put(b.step(), b.globalRealTokens());
                            assertTrue(before == null || before == b.globalRealTokens(), "ranks agree");
                            microClaimed.put(b.step() + "/" + b.microBatch(), b.globalMicroBatchRealTokens());
                        }
                    }
                }
            }
            assertEquals(stepSum, claimed, "bucket " + bucket);
            assertEquals(microSum, microClaimed, "bucket " + bucket);
        }
    }

    @Test
    void resumingWithAnotherWorldSizeMicroBatchAndRampUpSeesEverySampleOnceThroughTheLoaders() {
        BatchPlan first = ramped(2, 4).build();
        Map<Long, Integer> seen = new HashMap<>();
        int done = 23;
        for (int r = 0; r < 2; r++) {
            try (BatchLoader l = loader(first, r)) {
                Iterator<Batch> it = l.epoch(0);
                while (it.hasNext()) {
                    try (Batch b = it.next()) {
                        if (b.step() >= done) {
                            break;
                        }
                        for (long id : b.planned().samples()) {
                            seen.merge(id, 1, Integer::sum);
                        }
                    }
                }
            }
        }
        BatchPlan second = ramped(4, 2).resumeAt(first.consumedAfter(done)).build();
        for (int r = 0; r < 4; r++) {
            try (BatchLoader l = loader(second, r)) {
                Iterator<Batch> it = l.epoch(0);
                while (it.hasNext()) {
                    try (Batch b = it.next()) {
                        for (long id : b.planned().samples()) {
                            seen.merge(id, 1, Integer::sum);
                        }
                    }
                }
            }
        }
        assertEquals(corpus.size(), seen.size());
        assertTrue(seen.values().stream().allMatch(v -> v == 1), "a sample seen twice");
    }

    @Test
    void tokenBudgetBatchesStayWithinTheBudgetOnTheDevice() {
        Padding pad = padding();
        long budget = 4096;
        BatchPlan p = BatchPlan.builder().samples(corpus.size()).worldSize(2)
                .maxTokens(budget, i -> Math.min(corpus.length(i), 300), pad::outputLength).sortWindow(256)
                .rankRemainder(RankRemainder.PAD).shuffle(2).build();
        long[] steps = new long[2];
        for (int r = 0; r < 2; r++) {
            try (BatchLoader l = BatchLoader.builder().store(corpus).plan(p).rank(r).padding(pad).backend("native").build()) {
                Iterator<Batch> it = l.epoch(0);
                while (it.hasNext()) {
                    try (Batch b = it.next()) {
                        long padded = (long) b.padded().shape().batch() * b.padded().shape().length();
                        assertTrue(padded <= budget, padded + " padded tokens at step " + b.step());
                        steps[r]++;
                    }
                }
            }
        }
        assertEquals(steps[0], steps[1]);
        BatchPlan fromStore = BatchPlan.builder().samples(corpus.size()).worldSize(2).maxTokens(budget, corpus, 300, 0)
                .sortWindow(256).rankRemainder(RankRemainder.PAD).shuffle(2).build();
        assertEquals(p.steps(0), fromStore.steps(0));
        assertEquals(p.batch(1, 3), fromStore.batch(1, 3));
        assertThrows(IllegalArgumentException.class, () -> BatchLoader.builder().store(corpus).plan(p).padding(pad)
                .bucket(4).build());
    }
}
