package io.cubatch.loader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.collate.PadSide;
import io.cubatch.collate.Padding;
import io.cubatch.plan.BatchPlan;
import io.cubatch.plan.LastBatch;
import io.cubatch.plan.RankRemainder;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class BatchLoaderTest {
    static SampleStore corpus;

    @BeforeAll
    static void makeCorpus() {
        corpus = SyntheticCorpus.generate(3_001, 40, 400, 1000, 7);
    }

    @AfterAll
    static void freeCorpus() {
        corpus.close();
    }

    static BatchPlan plan(int world) {
        return BatchPlan.builder().samples(corpus.size()).batchSize(16).worldSize(world).shuffle(99)
                .rankRemainder(RankRemainder.PAD).lastBatch(LastBatch.PARTIAL).build();
    }

    static Padding padding() {
        return Padding.builder().side(PadSide.POST).dtype(DType.INT32).positions(true).build();
    }

    /** One record per batch: step, samples and every byte of data, lengths, mask, positions. */
    record Seen(long step, long[] samples, byte[] bytes) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Seen s && s.step == step && Arrays.equals(s.samples, samples) && Arrays.equals(s.bytes, bytes);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(bytes);
        }

        @Override
        public String toString() {
            return "step " + step + " " + Arrays.toString(samples);
        }
    }

    static Seen seen(Batch b) {
        var p = b.padded();
        byte[] all = concat(p.data().toArray(ValueLayout.JAVA_BYTE), p.lengths().toArray(ValueLayout.JAVA_BYTE),
                p.attentionMask().toArray(ValueLayout.JAVA_BYTE),
                p.shape().positions() ? p.positions().toArray(ValueLayout.JAVA_BYTE) : new byte[0],
                b.isPacked() ? b.cuSeqlens().toArray(ValueLayout.JAVA_BYTE) : new byte[0]);
        return new Seen(b.step(), b.planned().samples(), all);
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    static List<Seen> drain(Iterator<Batch> it, int limit) {
        List<Seen> out = new ArrayList<>();
        while (it.hasNext() && out.size() < limit) {
            try (Batch b = it.next()) {
                out.add(seen(b));
            }
        }
        return out;
    }

    static BatchLoader.Builder loader(String backend, int world, int rank) {
        return BatchLoader.builder().store(corpus).plan(plan(world)).rank(rank).padding(padding()).backend(backend)
                .prefetch(3).workers(2);
    }

    @Test
    void sameSeedSameBatchesOnEveryBackendAndRun() {
        List<Seen> reference;
        try (BatchLoader l = loader("java", 2, 1).build()) {
            reference = drain(l.epoch(3), Integer.MAX_VALUE);
        }
        assertEquals(plan(2).forEpoch(3).steps(1), reference.size());
        for (String backend : new String[] {"java", "native"}) {
            try (BatchLoader l = loader(backend, 2, 1).workers(3).build()) {
                assertEquals(reference, drain(l.epoch(3), Integer.MAX_VALUE), backend);
            }
        }
        for (int i = 0; i < reference.size(); i++) {
            assertArrayEquals(plan(2).forEpoch(3).batch(1, i).samples(), reference.get(i).samples(), "step " + i);
        }
    }

    @Test
    void resumeFromAStateContinuesWithTheSameBatches() {
        for (int bucket : new int[] {0, 5}) {
            List<Seen> full;
            try (BatchLoader l = loader("native", 3, 2).bucket(bucket).build()) {
                full = drain(l.epoch(1), Integer.MAX_VALUE);
            }
            LoaderState state;
            try (BatchLoader l = loader("native", 3, 2).bucket(bucket).build()) {
                List<Seen> head = drain(l.epoch(1), 23);
                assertEquals(full.subList(0, 23), head);
                state = l.state();
            }
            assertEquals(1, state.epoch());
            assertEquals(23L * 16 * 3, state.consumedSamples());
            try (BatchLoader l = loader("java", 3, 2).bucket(bucket).build()) {
                assertEquals(full.subList(23, full.size()), drain(l.resume(state), Integer.MAX_VALUE), "bucket " + bucket);
            }
        }
    }

    /** The samples of a batch that the plan did not repeat to pad the ranks, sorted. */
    static long[] firstSeen(Batch b) {
        var planned = b.planned();
        long[] ids = planned.samples();
        return java.util.stream.IntStream.range(0, ids.length).filter(i -> !planned.isRepeat(i))
                .mapToLong(i -> ids[i]).sorted().toArray();
    }

    /** Every rank's batches of {@code p}'s epoch: step, then the first-seen samples of all ranks together. */
    static List<long[]> stepsAcrossRanks(BatchPlan p, java.util.function.Function<Integer, BatchLoader> loaders) {
        List<long[]> steps = new ArrayList<>();
        for (int r = 0; r < p.worldSize(); r++) {
            try (BatchLoader l = loaders.apply(r)) {
                Iterator<Batch> it = l.epoch(p.epoch());
                for (int step = 0; it.hasNext(); step++) {
                    try (Batch b = it.next()) {
                        assertEquals(step, b.step());
                        if (steps.size() == step) {
                            steps.add(new long[0]);
                        }
                        steps.set(step, java.util.stream.LongStream.concat(Arrays.stream(steps.get(step)),
                                Arrays.stream(firstSeen(b))).sorted().toArray());
                    }
                }
            }
        }
        return steps;
    }

    @Test
    void aPlanResumedWithAnotherWorldSizeYieldsTheTailOfTheUninterruptedPlan() {
        BatchPlan two = plan(2).forEpoch(1);                 // 2 ranks x 16 = 32 samples per step
        List<long[]> uninterrupted = stepsAcrossRanks(two, r -> loader("java", 2, r).plan(two).build());
        int done = 7;
        long consumed = two.consumedAfter(done);             // 224: not a multiple of the new global batch
        BatchPlan four = two.toBuilder().worldSize(4).resumeAt(consumed).build();   // 4 ranks x 16 = 64 per step
        List<long[]> resumed = stepsAcrossRanks(four, r -> loader("native", 4, r).plan(four).build());
        // a step of 64 from position 224 on covers exactly two steps of 32 of the uninterrupted run
        List<long[]> expected = new ArrayList<>();
        for (int s = done; s < uninterrupted.size(); s += 2) {
            long[] pair = s + 1 < uninterrupted.size() ? concat(uninterrupted.get(s), uninterrupted.get(s + 1)) : uninterrupted.get(s);
            expected.add(Arrays.stream(pair).sorted().toArray());
        }
        assertEquals(expected.size(), resumed.size(), "steps after the resume point");
        for (int s = 0; s < expected.size(); s++) {
            assertArrayEquals(expected.get(s), resumed.get(s), "step " + s + " of the resumed run");
        }
    }

    static long[] concat(long[] a, long[] b) {
        return java.util.stream.LongStream.concat(Arrays.stream(a), Arrays.stream(b)).toArray();
    }

    @Test
    void aResumedPlanStartsAtItsResumePointAndCheckpointsFromThere() {
        List<Seen> full;
        try (BatchLoader l = loader("native", 3, 2).build()) {
            full = drain(l.epoch(1), Integer.MAX_VALUE);
        }
        BatchPlan p = plan(3).forEpoch(1);
        BatchPlan resumedAt23 = p.toBuilder().resumeAt(p.consumedAfter(23)).build();
        LoaderState state;
        try (BatchLoader l = loader("java", 3, 2).plan(resumedAt23).build()) {
            assertEquals(new LoaderState(1, p.consumedAfter(23), p.configHash()), l.state(), "before the first batch");
            List<Seen> tail = drain(l.epoch(1), 10);
            for (int i = 0; i < tail.size(); i++) {
                assertArrayEquals(full.get(23 + i).samples(), tail.get(i).samples(), "step " + (23 + i));
                assertArrayEquals(full.get(23 + i).bytes(), tail.get(i).bytes(), "step " + (23 + i));
            }
            state = l.state();
            assertEquals(new LoaderState(1, p.consumedAfter(33), p.configHash()), state);
            // the loader's own checkpoints resume within the resumed epoch ...
            List<Seen> again = drain(l.resume(state), Integer.MAX_VALUE);
            assertEquals(full.size() - 33, again.size());
            assertArrayEquals(full.get(33).bytes(), again.get(0).bytes());
            // ... and so do checkpoints from before its resume point
            List<Seen> earlier = drain(l.resume(new LoaderState(1, p.consumedAfter(20), p.configHash())), 5);
            for (int i = 0; i < earlier.size(); i++) {
                assertArrayEquals(full.get(20 + i).bytes(), earlier.get(i).bytes(), "step " + (20 + i));
            }
            // ... and the next epoch starts from its beginning
            assertEquals(plan(3).forEpoch(2).steps(2), drain(l.epoch(2), Integer.MAX_VALUE).size());
        }
        try (BatchLoader l = loader("java", 3, 2).build()) {   // the checkpoint also fits the plan without resumeAt
            List<Seen> rest = drain(l.resume(state), Integer.MAX_VALUE);
            assertEquals(full.size() - 33, rest.size());
            for (int i = 0; i < rest.size(); i++) {
                assertArrayEquals(full.get(33 + i).bytes(), rest.get(i).bytes(), "step " + (33 + i));
            }
        }
    }

    @Test
    void resumeWithAnotherPlanIsRefused() {
        LoaderState state;
        try (BatchLoader l = loader("java", 1, 0).build()) {
            drain(l.epoch(0), 2);
            state = l.state();
        }
        try (BatchLoader l = BatchLoader.builder().store(corpus).padding(padding()).plan(plan(1).toBuilder()
                .batchSize(8).build()).build()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> l.resume(state));
            assertTrue(e.getMessage().contains("plan hash"), e.getMessage());
        }
    }

    @Test
    void aWorkerFailureReachesTheConsumerWithStepRankAndSample() {
        try (SampleStore s = SampleStore.of(new long[][] {{1}, {2}, {3}, {4}, {5}, {300}, {7}, {8}})) {
            BatchPlan p = BatchPlan.builder().samples(8).batchSize(2).build();
            Padding int8 = Padding.builder().side(PadSide.POST).dtype(DType.INT8).build();
            try (BatchLoader l = BatchLoader.builder().store(s).plan(p).padding(int8).backend("native").build()) {
                Iterator<Batch> it = l.epoch(0);
                it.next().close();
                it.next().close();
                LoaderException e = assertThrows(LoaderException.class, it::next);
                assertTrue(e.getMessage().startsWith("step 2, rank 0 of epoch 0, samples [4, 5]"), e.getMessage());
                assertTrue(e.getMessage().contains("sample 5 (batch row 1), timestep 0: value 300 does not fit int8"),
                        e.getMessage());
            }
        }
    }

    @Test
    void closeMidEpochStopsWorkersFreesTheRingAndRefusesIteration() throws InterruptedException {
        BatchLoader l = loader("native", 1, 0).prefetch(4).build();
        Iterator<Batch> it = l.epoch(0);
        Batch held = it.next();
        MemorySegment data = held.padded().data();
        it.next().close();
        l.close();
        l.close();
        assertFalse(data.scope().isAlive(), "the ring is freed");
        assertThrows(IllegalStateException.class, () -> data.get(ValueLayout.JAVA_BYTE, 0));
        assertThrows(IllegalStateException.class, it::hasNext);
        assertThrows(IllegalStateException.class, () -> l.epoch(1));
        for (int i = 0; i < 50 && workerThreads() > 0; i++) {
            Thread.sleep(20);   // shutdownNow has returned; let the threads finish exiting
        }
        assertEquals(0, workerThreads(), "loader worker threads still alive");
    }

    @Test
    void loadersOpenAndCloseInALoopWithoutLeakingThreads() throws InterruptedException {
        for (int i = 0; i < 200; i++) {
            try (BatchLoader l = loader(i % 2 == 0 ? "java" : "native", 1, 0).build()) {
                drain(l.epoch(i), 3);
            }
        }
        for (int i = 0; i < 50 && workerThreads() > 0; i++) {
            Thread.sleep(20);
        }
        assertEquals(0, workerThreads());
    }

    static long workerThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals("cubatch-loader-worker") && t.isAlive()).count();
    }

    @Test
    void holdingEverySlotIsAClearError() {
        try (BatchLoader l = loader("java", 1, 0).prefetch(2).build()) {
            Iterator<Batch> it = l.epoch(0);
            it.next();
            it.next();
            IllegalStateException e = assertThrows(IllegalStateException.class, it::next);
            assertTrue(e.getMessage().contains("close each Batch"), e.getMessage());
        }
    }

    @Test
    void ownedCopiesOutliveTheirSlot() {
        try (BatchLoader l = loader("java", 1, 0).prefetch(2).ownedCopies(true).build()) {
            Iterator<Batch> it = l.epoch(0);
            List<Batch> kept = new ArrayList<>();
            List<Seen> copies = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                Batch b = it.next();
                kept.add(b);
                copies.add(seen(b));
            }
            for (int i = 0; i < 6; i++) {
                assertEquals(copies.get(i), seen(kept.get(i)));
                kept.get(i).close();
            }
        }
    }

    @Test
    void bucketingLowersThePaddingRatio() {
        double plain;
        double bucketed;
        try (BatchLoader l = loader("native", 1, 0).build()) {
            drain(l.epoch(0), Integer.MAX_VALUE);
            plain = l.stats().paddingRatio();
        }
        try (BatchLoader l = loader("native", 1, 0).bucket(16).build()) {
            List<Seen> batches = drain(l.epoch(0), Integer.MAX_VALUE);
            bucketed = l.stats().paddingRatio();
            long[] all = batches.stream().flatMapToLong(s -> Arrays.stream(s.samples())).sorted().toArray();
            long[] planned = new long[all.length];
            for (int i = 0; i < planned.length; i++) {
                planned[i] = i;
            }
            // the same samples, reordered (one sample is repeated by PAD? world 1 has no rank padding)
            assertArrayEquals(planned, all);
        }
        assertTrue(bucketed < plain * 0.6, "bucketed " + bucketed + " vs plain " + plain);
    }

    @Test
    void packingNeverCrossesARowAndCuSeqlensAddUp() {
        Padding pack = Padding.builder().side(PadSide.POST).maxlen(128).truncation(PadSide.POST).dtype(DType.INT32)
                .positions(true).build();
        try (BatchLoader l = BatchLoader.builder().store(corpus).plan(plan(1)).padding(pack).pack(true).backend("java").build()) {
            Iterator<Batch> it = l.epoch(0);
            int checked = 0;
            while (it.hasNext() && checked < 60) {
                try (Batch b = it.next()) {
                    checked++;
                    int[] cu = b.cuSeqlens().toArray(ValueLayout.JAVA_INT);
                    int[] lengths = b.padded().lengths().toArray(ValueLayout.JAVA_INT);
                    long[] samples = b.planned().samples();
                    assertEquals(samples.length + 1, cu.length);
                    assertEquals(0, cu[0]);
                    long sum = 0;
                    for (int k = 0; k < samples.length; k++) {
                        assertEquals(lengths[k], cu[k + 1] - cu[k]);
                        sum += lengths[k];
                    }
                    assertEquals(b.realTokens(), sum);
                    assertEquals(sum, cu[samples.length]);
                    // walk the rows: each sequence lies inside one row, positions restart at 0
                    int[] data = b.padded().data().toArray(ValueLayout.JAVA_INT);
                    int[] pos = b.padded().positions().toArray(ValueLayout.JAVA_INT);
                    byte[] mask = b.padded().attentionMask().toArray(ValueLayout.JAVA_BYTE);
                    int seq = 0;
                    for (int r = 0; r < b.rows(); r++) {
                        int col = 0;
                        while (col < 128 && mask[r * 128 + col] == 1) {
                            assertTrue(seq < samples.length, "more real runs than sequences");
                            int len = lengths[seq];
                            assertTrue(col + len <= 128, "sequence crosses a row");
                            for (int t = 0; t < len; t++) {
                                assertEquals(t, pos[r * 128 + col + t]);
                                assertEquals(1, mask[r * 128 + col + t]);
                            }
                            col += len;
                            seq++;
                        }
                        for (int t = col; t < 128; t++) {
                            assertEquals(0, mask[r * 128 + t]);
                            assertEquals(0, data[r * 128 + t]);
                        }
                    }
                    assertEquals(samples.length, seq, "every sequence placed");
                    // the packed runs are exactly the samples' tokens (truncated to 128), in some order
                    List<String> packedRuns = new ArrayList<>();
                    int run = 0;
                    for (int r = 0; r < b.rows(); r++) {
                        int col = 0;
                        while (col < 128 && mask[r * 128 + col] == 1) {
                            packedRuns.add(Arrays.toString(Arrays.copyOfRange(data, r * 128 + col, r * 128 + col + lengths[run])));
                            col += lengths[run++];
                        }
                    }
                    List<String> sources = new ArrayList<>();
                    for (long id : samples) {
                        int[] tokens = corpus.sample(id).toArray(ValueLayout.JAVA_INT);
                        sources.add(Arrays.toString(Arrays.copyOf(tokens, Math.min(tokens.length, 128))));
                    }
                    packedRuns.sort(null);
                    sources.sort(null);
                    assertEquals(sources, packedRuns);
                    assertTrue(b.rows() <= samples.length);
                }
            }
            assertTrue(l.stats().paddingRatio() < 0.35, "packing padding ratio " + l.stats().paddingRatio());
        }
    }
}
