package io.cubatch.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.collate.Backends;
import io.cubatch.collate.CollateException;
import io.cubatch.collate.CollateTestSupport;
import io.cubatch.collate.Collation;
import io.cubatch.collate.Collator;
import io.cubatch.collate.PadSide;
import io.cubatch.collate.PaddedBatch;
import io.cubatch.collate.PaddedShape;
import io.cubatch.collate.Padding;
import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The cuda backend on a real GPU, byte for byte against the java backend. Skipped, with the reason printed,
 * where {@link Cuda#availability()} says no GPU is usable (CI, this project's build machines). On a GPU
 * machine bench/gpu-check.sh runs these and fails if any of them is skipped. The byte-identity property
 * test of every available backend (CollatorEquivalenceTest) also covers cuda there.
 */
@Tag("gpu")
@ExtendWith(GpuTestSupport.class)
class CudaGpuTest {


    private static Padding randomPadding(SplittableRandom rng, DType dtype) {
        Padding.Builder p = Padding.builder().side(rng.nextBoolean() ? PadSide.PRE : PadSide.POST).dtype(dtype)
                .positions(rng.nextBoolean()).value(rng.nextInt(2));
        if (rng.nextBoolean()) {
            p.maxlen(1 + rng.nextInt(40));
        }
        if (rng.nextInt(3) == 0) {
            p.padToMultipleOf(1 + rng.nextInt(8));
        }
        p.truncation(rng.nextBoolean() ? PadSide.PRE : PadSide.POST);
        return p.build();
    }

    /** Random stores, every dtype pair, both kernels (16-byte stores when no conversion and rows fit). */
    @Test
    void padMatchesTheJavaBackendOnSeededRandomInput() {
        SplittableRandom rng = new SplittableRandom(20261122);
        DType[] types = DType.values();
        int wide = 0;
        try (CudaCollator cuda = CudaCollator.open(0); Collator java = Backends.create("java");
             Arena arena = Arena.ofConfined()) {
            for (int trial = 0; trial < 300; trial++) {
                DType src = types[rng.nextInt(types.length)];
                DType dst = rng.nextInt(3) == 0 ? src : types[rng.nextInt(types.length)];
                if (dst == DType.BOOL && src != DType.BOOL) {
                    dst = DType.INT8;
                }
                int features = rng.nextInt(3) == 0 ? 1 + rng.nextInt(4) : 1;
                SampleStore store = CollateTestSupport.randomStore(rng, arena, src, 1 + rng.nextInt(40),
                        rng.nextInt(64), features, true);
                long[] indices = rng.longs(1 + rng.nextInt(33), 0, store.size()).toArray();
                Padding padding = randomPadding(rng, dst);
                PaddedShape shape = Collation.shape(store, indices, padding);
                PaddedBatch expected = PaddedBatch.allocate(shape, arena);
                PaddedBatch actual = PaddedBatch.allocate(shape, arena);
                String error = null;
                try {
                    java.pad(store, indices, padding, expected);
                } catch (CollateException e) {
                    error = e.getMessage();
                }
                if (error != null) {
                    CollateException e = assertThrows(CollateException.class, () -> cuda.pad(store, indices, padding, actual));
                    assertEquals(error, e.getMessage(), "trial " + trial);
                    continue;
                }
                cuda.pad(store, indices, padding, actual);
                CollateTestSupport.assertSameBatch(expected, actual, "trial " + trial + " " + src + "->" + dst + " " + shape);
                wide += CudaSlot.wideStores(src, shape) ? 1 : 0;
            }
        }
        assertTrue(wide > 10, "cb_pad_kernel16 ran on only " + wide + " trials");
    }

    @Test
    void bytesOverPcieAreTokensPlusOffsets() {
        Padding padding = Padding.builder().side(PadSide.POST).dtype(DType.INT32).maxlen(3).truncation(PadSide.PRE).build();
        long[] indices = {0, 2, 3, 0};
        // SampleStore.of copies the arrays off-heap, which the H2D copy needs
        try (SampleStore store = SampleStore.of(new int[][] {{1, 2, 3, 4, 5}, {6}, {}, {7, 8}});
             CudaCollator cuda = CudaCollator.open(0)) {
            try (CudaSlot slot = new CudaSlot(0)) {
                CudaTensors t = slot.enqueue(store, indices, padding);
                t.await();
                assertEquals(8 * 5 + 4 * (3 + 0 + 2 + 3), t.h2dBytes());
                assertEquals(t.h2dBytes(), slot.h2dBytes());
                try (DeviceStore resident = cuda.upload(store, 1 << 20)) {
                    t = slot.enqueue(resident, indices, padding);
                    t.await();
                    assertEquals(8 * 4, t.h2dBytes(), "resident: only the indices travel");
                }
            }
        }
    }

    @Test
    void residentStoreGathersOnTheDeviceToTheSameBytes() {
        SplittableRandom rng = new SplittableRandom(9);
        try (CudaCollator cuda = CudaCollator.open(0); CudaSlot slot = new CudaSlot(0); Collator java = Backends.create("java");
             Arena arena = Arena.ofConfined()) {
            SampleStore store = CollateTestSupport.randomStore(rng, arena, DType.INT32, 500, 200, 1, true);
            try (DeviceStore resident = cuda.upload(store, 1L << 30)) {
                for (int trial = 0; trial < 100; trial++) {
                    long[] indices = rng.longs(1 + rng.nextInt(64), 0, store.size()).toArray();
                    Padding padding = randomPadding(rng, rng.nextBoolean() ? DType.INT32 : DType.FLOAT16);
                    PaddedShape shape = Collation.shape(store, indices, padding);
                    PaddedBatch expected = PaddedBatch.allocate(shape, arena);
                    PaddedBatch actual = PaddedBatch.allocate(shape, arena);
                    java.pad(store, indices, padding, expected);
                    slot.enqueue(resident, indices, padding).copyTo(actual);
                    CollateTestSupport.assertSameBatch(expected, actual, "resident trial " + trial);
                }
            }
        }
    }

    /**
     * K = 3 batches enqueued in 3 slots before any is read, on two threads at once (each with its own slots,
     * all on one device): every batch keeps its own bytes.
     */
    @Test
    void slotsKeepBatchesApartUnderConcurrentUse() throws Exception {
        try (Arena arena = Arena.ofShared()) {
            SampleStore store = CollateTestSupport.randomStore(new SplittableRandom(4), arena, DType.INT64, 300,
                    300, 1, true);
            ExecutorService ex = Executors.newFixedThreadPool(2);
            List<Future<Integer>> fs = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                int seed = t;
                fs.add(ex.submit(() -> {
                    SplittableRandom rng = new SplittableRandom(seed);
                    int compared = 0;
                    CudaSlot[] slots = {new CudaSlot(0), new CudaSlot(0), new CudaSlot(0)};
                    try (Collator java = Backends.create("java"); Arena local = Arena.ofConfined()) {
                        for (int round = 0; round < 40; round++) {
                            List<long[]> batches = new ArrayList<>();
                            List<CudaTensors> inFlight = new ArrayList<>();
                            Padding padding = randomPadding(rng, DType.INT32);
                            for (int k = 0; k < 3; k++) {
                                long[] idx = rng.longs(1 + rng.nextInt(48), 0, store.size()).toArray();
                                batches.add(idx);
                                inFlight.add(slots[k].enqueue(store, idx, padding));
                            }
                            for (int k = 0; k < 3; k++) {
                                PaddedShape shape = Collation.shape(store, batches.get(k), padding);
                                PaddedBatch expected = PaddedBatch.allocate(shape, local);
                                PaddedBatch actual = PaddedBatch.allocate(shape, local);
                                java.pad(store, batches.get(k), padding, expected);
                                inFlight.get(k).copyTo(actual);
                                CollateTestSupport.assertSameBatch(expected, actual, "round " + round + " slot " + k);
                                compared++;
                            }
                        }
                    } finally {
                        for (CudaSlot s : slots) {
                            s.close();
                        }
                    }
                    return compared;
                }));
            }
            for (Future<Integer> f : fs) {
                assertEquals(120, f.get(120, TimeUnit.SECONDS));
            }
            ex.shutdown();
        }
    }

    @Test
    void stackMatchesTheJavaBackend() {
        SplittableRandom rng = new SplittableRandom(8);
        try (CudaCollator cuda = CudaCollator.open(0); Collator java = Backends.create("java");
             Arena arena = Arena.ofConfined()) {
            for (int trial = 0; trial < 50; trial++) {
                int n = 1 + rng.nextInt(30);
                int row = 1 + rng.nextInt(40);
                MemorySegment values = arena.allocate(4L * n * row, 16);
                for (long i = 0; i < (long) n * row; i++) {
                    values.setAtIndex(ValueLayout.JAVA_FLOAT, i, rng.nextInt(-500, 500) / 4f);
                }
                SampleStore store = SampleStore.wrapFixed(DType.FLOAT32, n, row, new long[0], values);
                long[] idx = rng.longs(1 + rng.nextInt(20), 0, n).toArray();
                DType dst = trial % 2 == 0 ? DType.FLOAT16 : DType.FLOAT64;
                MemorySegment e = arena.allocate(idx.length * (long) row * dst.byteSize(), 16);
                MemorySegment a = arena.allocate(e.byteSize(), 16);
                java.stack(store, idx, dst, e);
                cuda.stack(store, idx, dst, a);
                assertEquals(-1, e.mismatch(a), "stack trial " + trial);
            }
        }
    }

    /**
     * 200 collators opened, used and closed: device memory free afterwards is what it was (the device's
     * primary context stays retained by the registry throughout, so a leak cannot hide behind a context
     * reset), and every context ends with nothing open.
     */
    @Test
    void contextsAndCollatorsOpenAndCloseWithoutLeaking() {
        long before;
        try (CudaContext c = CudaContext.open(0)) {
            c.synchronize();
            before = c.memoryInfo()[0];
        }
        try (SampleStore s = SampleStore.of(new int[][] {{1, 2, 3}, {4}})) {
            Padding padding = Padding.builder().side(PadSide.POST).dtype(DType.INT32).build();
            for (int i = 0; i < 200; i++) {
                try (CudaCollator cuda = (CudaCollator) Backends.create("cuda"); Arena a = Arena.ofConfined()) {
                    PaddedBatch out = PaddedBatch.allocate(Collation.shape(s, new long[] {0, 1}, padding), a);
                    cuda.pad(s, new long[] {0, 1}, padding, out);
                    if (i == 0) {
                        assertTrue(cuda.context().memoryInfo()[0] < before, "a used slot holds device memory while open");
                    }
                }
            }
        }
        try (CudaContext c = CudaContext.open(0)) {
            c.synchronize();
            long after = c.memoryInfo()[0];
            // the emulator accounts exactly; a GPU's allocator may keep a little cached
            long slack = CudaEmulator.present() ? 0 : (4L << 20);
            assertTrue(before - after <= slack, "device memory free fell by " + (before - after) + " bytes over 200"
                    + " open/close cycles");
        }
    }

    @Test
    void probeFindsABatchAndFreesEverything() {
        try (CudaContext c = CudaContext.open(0)) {
            List<String> notes = new ArrayList<>();
            MemoryProbe.Step step = MemoryProbe.linearIfAvailable(1024, 1024, notes);
            System.out.println("probe step: " + step.describe() + " " + notes);
            MemoryProbe.Report r = MemoryProbe.probe(c, 4096, 1, DType.INT32, true, step, 0.1, 1L << 24);
            assertTrue(r.largestBatch() > 0, r.toString());
            assertEquals(0, c.openAllocations());
            assertTrue(r.bytesAtLargest() <= r.totalBytes());
            long bytesEach = MemoryProbe.batchBytes(1, 4096, 1, DType.INT32, true);
            // no step: the answer is bounded by memory; one more sample must not have fitted
            if (notes.size() == 1) {
                assertTrue((r.largestBatch() + 1) * bytesEach > r.freeBytes() - r.marginBytes() - (256L << 20),
                        "probe stopped early: " + r);
            }
        }
    }
}
