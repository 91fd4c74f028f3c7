package io.cubatch.loader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.collate.CollateTestSupport;
import io.cubatch.collate.PadSide;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.Padding;
import io.cubatch.cuda.Cuda;
import io.cubatch.cuda.CudaEmulator;
import io.cubatch.cuda.CudaTensors;
import io.cubatch.cuda.GpuTestSupport;
import io.cubatch.plan.BatchPlan;
import io.cubatch.plan.LastBatch;
import io.cubatch.plan.RankRemainder;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The loader in device mode (the cuda backend): batches padded on the GPU from the real tokens only, equal
 * byte for byte to the java backend's host batches, for every dtype pair and padding option; the dataset
 * resident on the device with only indices sent; backpressure; close mid-epoch freeing every device and
 * pinned allocation. Runs under the CUDA driver emulator in every build (1 and 2 devices) and on a GPU.
 */
@Tag("gpu")
@ExtendWith(GpuTestSupport.class)
class DeviceLoaderTest {

    private static BatchPlan plan(long samples, int batch, long seed) {
        return BatchPlan.builder().samples(samples).batchSize(batch).shuffle(seed)
                .lastBatch(LastBatch.PARTIAL).build();
    }

    private static Padding randomPadding(SplittableRandom rng, DType dst) {
        Padding.Builder p = Padding.builder().side(rng.nextBoolean() ? PadSide.PRE : PadSide.POST).dtype(dst)
                .positions(rng.nextBoolean()).value(rng.nextInt(2));
        if (rng.nextBoolean()) {
            p.maxlen(1 + rng.nextInt(30)).truncation(rng.nextBoolean() ? PadSide.PRE : PadSide.POST);
        }
        if (rng.nextInt(3) == 0) {
            p.padToMultipleOf(1 + rng.nextInt(8));
        }
        return p.build();
    }

    /** Each device batch copied back, against the java backend's batch of the same step. */
    private static int compareEpoch(SampleStore store, BatchPlan plan, Padding padding, int device, boolean resident,
                                    Arena arena) {
        int compared = 0;
        BatchLoader.Builder db = BatchLoader.builder().store(store).plan(plan).padding(padding).backend("cuda")
                .device(device).prefetch(3).workers(2);
        if (resident) {
            db.residentOnDevice(1L << 30);
        }
        try (BatchLoader host = BatchLoader.builder().store(store).plan(plan).padding(padding).backend("java")
                .prefetch(2).workers(1).build();
             BatchLoader dev = db.build()) {
            assertTrue(dev.deviceMode());
            assertEquals(device, dev.device());
            Iterator<Batch> h = host.epoch(0);
            Iterator<Batch> d = dev.epoch(0);
            while (h.hasNext()) {
                assertTrue(d.hasNext());
                Batch hb;
                try {
                    hb = h.next();
                } catch (LoaderException expected) {
                    LoaderException got = assertThrows(LoaderException.class, d::next, "the device loader must fail too");
                    assertEquals(expected.getMessage(), got.getMessage());
                    return compared;
                }
                try (hb; Batch db2 = d.next()) {
                    assertTrue(db2.onDevice());
                    assertEquals(device, db2.device());
                    assertEquals(hb.shape(), db2.shape());
                    assertEquals(hb.realTokens(), db2.realTokens(), "real tokens of step " + hb.step());
                    PaddedBatch back = PaddedBatch.allocate(db2.shape(), arena);
                    CudaTensors.of(db2.deviceTensors()).copyTo(back);
                    PaddedBatch want = hb.padded();
                    String what = "step " + hb.step() + " " + store.dtype() + "->" + padding.dtype() + " " + hb.shape();
                    assertEquals(-1, want.data().mismatch(back.data()), what + ": data");
                    assertEquals(-1, want.lengths().mismatch(back.lengths()), what + ": lengths");
                    assertEquals(-1, want.attentionMask().mismatch(back.attentionMask()), what + ": mask");
                    if (want.shape().positions()) {
                        assertEquals(-1, want.positions().mismatch(back.positions()), what + ": positions");
                    }
                    long rows = hb.planned().samples().length;
                    long expectH2d = resident ? 8 * rows
                            : 8 * (rows + 1) + hb.realTokens() * Math.max(1, store.features()) * store.dtype().byteSize();
                    assertEquals(expectH2d, db2.h2dBytes(), what + ": bytes sent");
                    compared++;
                }
            }
            assertFalse(d.hasNext());
            LoaderStats s = dev.stats();
            assertEquals(0, s.d2hBytes(), "device batches are never copied back by the loader");
            assertEquals(16L * s.batches(), s.statusBytes());
            assertEquals(device, s.device());
            assertTrue(s.deviceMillisPerBatch() >= 0, "device time " + s.deviceMillisPerBatch());
        }
        return compared;
    }

    @Test
    void deviceBatchesEqualHostBatchesForEveryDtypeAndPadding() {
        SplittableRandom rng = new SplittableRandom(20261202);
        DType[] types = DType.values();
        int devices = Cuda.availability().devices().size();
        int compared = 0;
        try (Arena arena = Arena.ofShared()) {
            for (int trial = 0; trial < 24; trial++) {
                DType src = types[trial % types.length];
                DType dst = rng.nextInt(3) == 0 ? src : types[rng.nextInt(types.length)];
                if (dst == DType.BOOL && src != DType.BOOL) {
                    dst = DType.INT8;
                }
                int features = trial % 4 == 3 ? 2 : 1;
                SampleStore store = CollateTestSupport.randomStore(rng, arena, src, 40 + rng.nextInt(40), 1 + rng.nextInt(40),
                        features, true);
                Padding padding = randomPadding(rng, dst);
                compared += compareEpoch(store, plan(store.size(), 1 + rng.nextInt(12), trial), padding,
                        trial % devices, false, arena);
            }
        }
        assertTrue(compared > 100, "compared " + compared + " batches");
    }

    @Test
    void aResidentDatasetSendsOnlyIndices() {
        int devices = Cuda.availability().devices().size();
        try (Arena arena = Arena.ofShared()) {
            SampleStore store = CollateTestSupport.randomStore(new SplittableRandom(5), arena, DType.INT32, 300, 120, 1,
                    true);
            Padding padding = Padding.builder().side(PadSide.POST).dtype(DType.INT32).positions(true).build();
            assertTrue(compareEpoch(store, plan(store.size(), 16, 1), padding, devices - 1, true, arena) > 10);
            BatchLoader.Builder b = BatchLoader.builder().store(store).plan(plan(store.size(), 16, 1)).padding(padding)
                    .backend("cuda").device(0).residentOnDevice(100);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, b::build);
            assertTrue(e.getMessage().contains("over the device-resident budget of 100 bytes"), e.getMessage());
        }
    }

    /** A consumer that holds all K batches gets a clear error instead of a hang; closing one lets it go on. */
    @Test
    void aConsumerHoldingEverySlotIsToldNotDeadlocked() {
        try (SampleStore store = SyntheticCorpus.generate(200, 5, 60, 100, 3)) {
            Padding padding = Padding.builder().side(PadSide.POST).dtype(DType.INT32).build();
            assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
                try (BatchLoader loader = BatchLoader.builder().store(store).plan(plan(store.size(), 8, 2))
                        .padding(padding).backend("cuda").prefetch(3).workers(2).build()) {
                    Iterator<Batch> it = loader.epoch(0);
                    List<Batch> held = new ArrayList<>();
                    for (int k = 0; k < 3; k++) {
                        held.add(it.next());
                    }
                    IllegalStateException e = assertThrows(IllegalStateException.class, it::next);
                    assertTrue(e.getMessage().contains("prefetch slots are held"), e.getMessage());
                    held.remove(0).close();
                    try (Batch next = it.next()) {
                        assertEquals(3, next.step());
                    }
                    held.forEach(Batch::close);
                }
            });
        }
    }

    /** close() mid-epoch with batches open and in flight frees every device and pinned allocation. */
    @Test
    void closeMidEpochFreesEveryDeviceResource() {
        long live = CudaEmulator.present() ? CudaEmulator.counters().liveResources() : 0;
        try (SampleStore store = SyntheticCorpus.generate(500, 5, 200, 100, 4)) {
            Padding padding = Padding.builder().side(PadSide.PRE).dtype(DType.FLOAT16).build();
            BatchLoader loader = BatchLoader.builder().store(store).plan(plan(store.size(), 16, 3)).padding(padding)
                    .backend("cuda").prefetch(4).workers(2).residentOnDevice(1L << 30).build();
            Iterator<Batch> it = loader.epoch(0);
            Batch open = it.next();
            it.next();
            loader.close();
            assertThrows(IllegalStateException.class, open::planned, "a batch of a closed loader is closed");
            open.close();
        }
        if (CudaEmulator.present()) {
            assertEquals(live, CudaEmulator.counters().liveResources(), "left alive after close mid-epoch");
        }
    }

    @Test
    void aValueThatDoesNotFitIsALoaderErrorNamingTheStep() {
        try (SampleStore store = SampleStore.of(new int[][] {{1, 2}, {300, 4}, {5}, {6}})) {
            Padding padding = Padding.builder().side(PadSide.POST).dtype(DType.INT8).build();
            try (BatchLoader loader = BatchLoader.builder().store(store).plan(plan(4, 2, 0)).padding(padding)
                    .backend("cuda").prefetch(2).workers(1).build()) {
                Iterator<Batch> it = loader.epoch(0);
                LoaderException e = assertThrows(LoaderException.class, () -> {
                    while (it.hasNext()) {
                        it.next().close();
                    }
                });
                assertTrue(e.getMessage().contains("300") && e.getMessage().contains("step"), e.getMessage());
            }
        }
    }

    /**
     * Packing on the device (cb_pack_kernel) against the java backend's packing: data, mask, positions, the
     * per-sequence lengths, cu_seqlens and max_seqlen, byte for byte, for every dtype pair and both
     * truncation sides; only the packed real tokens and 24 bytes per sequence cross PCIe.
     */
    @Test
    void packedDeviceBatchesEqualPackedHostBatches() {
        SplittableRandom rng = new SplittableRandom(77);
        DType[] types = DType.values();
        int compared = 0;
        try (Arena arena = Arena.ofShared()) {
            for (int trial = 0; trial < 16; trial++) {
                DType src = types[trial % types.length];
                DType dst = rng.nextInt(3) == 0 ? src : types[rng.nextInt(types.length)];
                if (dst == DType.BOOL && src != DType.BOOL) {
                    dst = DType.INT8;
                }
                SampleStore store = CollateTestSupport.randomStore(rng, arena, src, 30 + rng.nextInt(30),
                        1 + rng.nextInt(30), trial % 5 == 4 ? 2 : 1, true);
                Padding padding = Padding.builder().side(PadSide.POST).dtype(dst).positions(rng.nextBoolean())
                        .maxlen(8 + rng.nextInt(24)).truncation(rng.nextBoolean() ? PadSide.PRE : PadSide.POST)
                        .value(rng.nextInt(2)).build();
                BatchPlan plan = plan(store.size(), 1 + rng.nextInt(10), trial);
                try (BatchLoader host = BatchLoader.builder().store(store).plan(plan).padding(padding).backend("java")
                        .pack(true).prefetch(2).workers(1).build();
                     BatchLoader dev = BatchLoader.builder().store(store).plan(plan).padding(padding).backend("cuda")
                             .device(trial % Cuda.availability().devices().size()).pack(true).prefetch(2).workers(2)
                             .build()) {
                    Iterator<Batch> h = host.epoch(0);
                    Iterator<Batch> d = dev.epoch(0);
                    while (h.hasNext()) {
                        Batch hb;
                        try {
                            hb = h.next();
                        } catch (LoaderException expected) {
                            assertEquals(expected.getMessage(), assertThrows(LoaderException.class, d::next).getMessage());
                            break;
                        }
                        try (hb; Batch db = d.next()) {
                            assertTrue(db.isPacked() && db.onDevice());
                            assertEquals(hb.shape(), db.shape());
                            assertEquals(hb.rows(), db.rows());
                            assertEquals(hb.maxSeqlen(), db.maxSeqlen());
                            CudaTensors t = CudaTensors.of(db.deviceTensors());
                            PaddedBatch want = hb.padded();
                            int seqs = hb.planned().samples().length;
                            String what = "trial " + trial + " step " + hb.step() + " " + src + "->" + dst;
                            assertDeviceBytes(t, t.data(), want.data(), what + ": data");
                            assertDeviceBytes(t, t.attentionMask(), want.attentionMask(), what + ": mask");
                            if (padding.positions()) {
                                assertDeviceBytes(t, t.positions(), want.positions(), what + ": positions");
                            }
                            assertDeviceBytes(t, t.lengths(), want.lengths(), what + ": lengths");
                            assertDeviceBytes(t, t.cuSeqlens(), hb.cuSeqlens(), what + ": cu_seqlens");
                            MemorySegment max = arena.allocate(4);
                            t.copyToHost(t.maxSeqlen(), max);
                            assertEquals(hb.maxSeqlen(), max.get(ValueLayout.JAVA_INT, 0), what + ": max_seqlen");
                            assertEquals(24L * seqs + hb.realTokens() * Math.max(1, store.features())
                                    * store.dtype().byteSize(), db.h2dBytes(), what + ": bytes sent");
                            compared++;
                        }
                    }
                }
            }
        }
        assertTrue(compared > 40, "compared " + compared + " packed batches");
    }

    private static void assertDeviceBytes(CudaTensors t, long address, MemorySegment want, String what) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment got = a.allocate(Math.max(1, want.byteSize()));
            if (want.byteSize() > 0) {
                t.copyToHost(address, got.asSlice(0, want.byteSize()));
            }
            assertEquals(-1, want.mismatch(got.asSlice(0, want.byteSize())), what);
        }
    }

    /** Four ranks in one process over the GPUs: each step lands every rank's own batch on its own GPU. */
    @Test
    void localRanksLandEachRanksBatchOnItsGpu() {
        int gpus = Cuda.availability().devices().size();
        int world = 4;
        int[] devices = new int[world];
        for (int r = 0; r < world; r++) {
            devices[r] = r % gpus;
        }
        try (Arena arena = Arena.ofShared()) {
            SampleStore store = CollateTestSupport.randomStore(new SplittableRandom(8), arena, DType.INT32, 195, 90, 1,
                    true);
            BatchPlan plan = BatchPlan.builder().samples(store.size()).batchSize(8).worldSize(world).shuffle(4)
                    .rankRemainder(RankRemainder.PARTIAL).lastBatch(LastBatch.PARTIAL).build();
            Padding padding = Padding.builder().side(PadSide.PRE).dtype(DType.INT32).positions(true).build();
            List<BatchLoader> hosts = new ArrayList<>();
            List<Iterator<Batch>> expected = new ArrayList<>();
            int steps = 0;
            int empty = 0;
            try (LocalRanks ranks = LocalRanks.builder().store(store).plan(plan).padding(padding).devices(devices)
                    .prefetch(2).build()) {
                for (int r = 0; r < world; r++) {
                    BatchLoader h = BatchLoader.builder().store(store).plan(plan).rank(r).padding(padding)
                            .backend("java").prefetch(2).workers(1).build();
                    hosts.add(h);
                    expected.add(h.epoch(0));
                }
                Iterator<List<Batch>> it = ranks.epoch(0);
                while (it.hasNext()) {
                    List<Batch> step = it.next();
                    assertEquals(world, step.size());
                    for (int r = 0; r < world; r++) {
                        Batch d = step.get(r);
                        if (d == null) {
                            assertFalse(expected.get(r).hasNext(), "rank " + r + " has a step the device side skipped");
                            empty++;
                            continue;
                        }
                        try (d; Batch h = expected.get(r).next()) {
                            assertEquals(r, d.rank());
                            assertEquals(devices[r], d.device(), "rank " + r + "'s GPU");
                            PaddedBatch back = PaddedBatch.allocate(d.shape(), arena);
                            CudaTensors.of(d.deviceTensors()).copyTo(back);
                            assertEquals(-1, h.padded().data().mismatch(back.data()), "rank " + r + " step " + d.step());
                            assertEquals(-1, h.padded().positions().mismatch(back.positions()));
                        }
                    }
                    steps++;
                }
                for (Iterator<Batch> e : expected) {
                    assertFalse(e.hasNext());
                }
                assertEquals(world, ranks.stats().size());
            } finally {
                hosts.forEach(BatchLoader::close);
            }
            assertEquals(plan.maxSteps(), steps);
            assertTrue(empty > 0, "PARTIAL over 195 samples leaves rank 3 a step short");
        }
    }
}
