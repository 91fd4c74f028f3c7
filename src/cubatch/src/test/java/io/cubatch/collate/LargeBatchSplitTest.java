package io.cubatch.collate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Batches of 4 MB of output or more, which the java backend splits over two threads (the upper rows on the common
 * pool) and libcubatch over its workers: every byte as the reference writes it, in a loop of batches through one
 * collator, and a value that does not fit reported for the lowest failing row whichever half holds it.
 */
class LargeBatchSplitTest {
    private static final int ROWS = 600;

    @Test
    void largeBatchesWriteTheReferenceBytes() {
        largeBatches(Arena.ofShared());     // split over threads
        largeBatches(Arena.ofConfined());   // the owner thread alone may touch the segments: never split
    }

    private static void largeBatches(Arena owned) {
        SplittableRandom rng = new SplittableRandom(41);
        try (Arena arena = owned) {
            SampleStore store = CollateTestSupport.randomStore(rng, arena, DType.INT32, 900, 4000, 1, true);
            for (String backend : CollateTestSupport.availableBackends()) {
                try (Collator c = Backends.create(backend)) {
                    for (int round = 0; round < 6; round++) {
                        long[] indices = new long[ROWS];
                        for (int b = 0; b < ROWS; b++) {
                            indices[b] = rng.nextLong(store.size());
                        }
                        Padding padding = Padding.builder().side(round % 2 == 0 ? PadSide.POST : PadSide.PRE)
                                .dtype(round % 3 == 2 ? DType.FLOAT16 : DType.INT32).value(round % 3 == 1 ? -7 : 0)
                                .positions(round == 3).build();
                        PaddedShape shape = c.shape(store, indices, padding);
                        assertTrue(shape.dataBytes() >= 4L << 20, "a batch the backends split: " + shape);
                        PaddedBatch want = PaddedBatch.allocate(shape, arena);
                        CollateTestSupport.reference(store, indices, padding, want);
                        CollateTestSupport.Guarded got = CollateTestSupport.Guarded.allocate(shape, arena);
                        c.pad(store, indices, padding, got.batch());
                        String what = backend + " round " + round + " " + shape;
                        CollateTestSupport.assertSameBatch(want, got.batch(), what);
                        assertTrue(got.guardsIntact(), what + ": wrote outside its output");
                    }
                }
            }
        }
    }

    /**
     * From a ForkJoinPool worker (a parallel stream's task) the java backend pads on one thread: its join could
     * run another task padding on the same collator. Several such tasks at once, each with its own collator.
     */
    @Test
    void largeBatchesFromPoolWorkersWriteTheReferenceBytes() throws Exception {
        try (Arena arena = Arena.ofShared()) {
            SampleStore store = CollateTestSupport.randomStore(new SplittableRandom(43), arena, DType.INT32, 900, 4000, 1,
                    true);
            long[] indices = new long[ROWS];
            for (int b = 0; b < ROWS; b++) {
                indices[b] = (b * 7L) % store.size();
            }
            Padding padding = Padding.builder().side(PadSide.POST).dtype(DType.INT32).build();
            PaddedShape shape = Collation.shape(store, indices, padding);
            PaddedBatch want = PaddedBatch.allocate(shape, arena);
            CollateTestSupport.reference(store, indices, padding, want);
            long mismatches = java.util.stream.IntStream.range(0, 4).parallel().mapToLong(task -> {
                try (Collator c = Backends.create("java")) {
                    PaddedBatch got = PaddedBatch.allocate(shape, arena);
                    long bad = 0;
                    for (int round = 0; round < 3; round++) {
                        c.pad(store, indices, padding, got);
                        bad += want.data().mismatch(got.data()) == -1 && want.attentionMask().mismatch(got.attentionMask())
                                == -1 ? 0 : 1;
                    }
                    return bad;
                }
            }).sum();
            assertEquals(0, mismatches, "batches padded from pool workers that differ from the reference");
        }
    }

    /** int32 samples of 3600 timesteps, all 1 except a 40000 at timestep 5 of the samples in {@code bad}. */
    private static SampleStore store(Arena arena, int samples, int... bad) {
        int len = 3600;
        MemorySegment values = arena.allocate(4L * samples * len, 16);
        for (long i = 0; i < (long) samples * len; i++) {
            values.setAtIndex(ValueLayout.JAVA_INT, i, 1);
        }
        for (int s : bad) {
            values.setAtIndex(ValueLayout.JAVA_INT, (long) s * len + 5, 40_000);
        }
        MemorySegment offsets = arena.allocate(8L * (samples + 1), 8);
        for (int s = 0; s <= samples; s++) {
            offsets.setAtIndex(ValueLayout.JAVA_LONG, s, (long) s * len);
        }
        return SampleStore.wrapRagged(DType.INT32, new long[0], values, offsets);
    }

    @Test
    void aValueThatDoesNotFitIsReportedForTheLowestRowWhicheverHalfHoldsIt() {
        try (Arena arena = Arena.ofShared()) {
            long[] indices = new long[ROWS];
            for (int b = 0; b < ROWS; b++) {
                indices[b] = b;
            }
            Padding int16 = Padding.builder().side(PadSide.POST).dtype(DType.INT16).build();   // 40000 does not fit int16
            // only the upper half fails; both halves fail (the lower row wins); only the lower half fails
            int[][] cases = {{ROWS - 7}, {ROWS / 2 + 3, 11}, {2}};
            for (int[] bad : cases) {
                SampleStore store = store(arena, ROWS, bad);
                int lowest = java.util.Arrays.stream(bad).min().orElseThrow();
                for (String backend : CollateTestSupport.availableBackends()) {
                    try (Collator c = Backends.create(backend)) {
                        PaddedShape shape = c.shape(store, indices, int16);
                        assertTrue(shape.dataBytes() >= 4L << 20, "a batch libcubatch and java split: " + shape);
                        PaddedBatch out = PaddedBatch.allocate(shape, arena);
                        CollateException e = assertThrows(CollateException.class, () -> c.pad(store, indices, int16, out));
                        assertTrue(e.getMessage().startsWith("sample " + lowest + " (batch row " + lowest + "), timestep 5"),
                                backend + ": " + e.getMessage());
                        // the collator still pads a good batch afterwards
                        long[] good = {ROWS - 1 == lowest ? 0 : ROWS - 1};
                        PaddedShape small = c.shape(store, good, Padding.builder().side(PadSide.POST).dtype(DType.INT32).build());
                        c.pad(store, good, Padding.builder().side(PadSide.POST).dtype(DType.INT32).build(), PaddedBatch.allocate(small, arena));
                    }
                }
            }
        }
    }
}
