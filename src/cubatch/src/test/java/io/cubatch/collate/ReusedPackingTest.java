package io.cubatch.collate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Packing reuses what lives across batches (the slot's layout, views and result, the native tables): a stream
 * of batches of changing sizes and row counts packed into one slot gives, batch by batch, what packing each
 * into a fresh slot gives, and a reusable {@link PackLayout} answers as {@link PackLayout#of} does.
 */
class ReusedPackingTest {

    /** Everything a packed host batch holds, copied out. */
    private record Packed(PaddedShape shape, long realTokens, byte[] data, byte[] mask, byte[] positions,
                          byte[] lengths, byte[] cu, int maxSeqlen) {
        static Packed of(FilledBatch f) {
            PaddedBatch b = f.host().orElseThrow();
            FilledBatch.Packing p = f.packing().orElseThrow();
            return new Packed(f.shape(), f.realTokens(), bytes(b.data()), bytes(b.attentionMask()),
                    f.shape().positions() ? bytes(b.positions()) : new byte[0], bytes(b.lengths()),
                    bytes(p.hostCuSeqlens().orElseThrow()), p.layout().maxSeqlen());
        }

        void assertEqualTo(Packed o, String what) {
            assertEquals(shape, o.shape, what + ": shape");
            assertEquals(realTokens, o.realTokens, what + ": real tokens");
            assertArrayEquals(data, o.data, what + ": data");
            assertArrayEquals(mask, o.mask, what + ": mask");
            assertArrayEquals(positions, o.positions, what + ": positions");
            assertArrayEquals(lengths, o.lengths, what + ": lengths");
            assertArrayEquals(cu, o.cu, what + ": cu_seqlens");
            assertEquals(maxSeqlen, o.maxSeqlen, what + ": max_seqlen");
        }
    }

    private static byte[] bytes(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    private static void assertSameLayout(PackLayout want, PackLayout got, String what) {
        assertEquals(want.shape(), got.shape(), what);
        assertEquals(want.rows(), got.rows(), what);
        assertEquals(want.maxlen(), got.maxlen(), what);
        assertEquals(want.features(), got.features(), what);
        assertEquals(want.sequences(), got.sequences(), what);
        assertEquals(want.realTokens(), got.realTokens(), what);
        assertEquals(want.maxSeqlen(), got.maxSeqlen(), what);
        for (int k = 0; k < want.sequences(); k++) {
            assertEquals(want.batchRow(k), got.batchRow(k), what + ", sequence " + k);
            assertEquals(want.first(k), got.first(k), what + ", sequence " + k);
            assertEquals(want.keep(k), got.keep(k), what + ", sequence " + k);
            assertEquals(want.start(k), got.start(k), what + ", sequence " + k);
        }
        int k = want.sequences();
        assertThrows(IndexOutOfBoundsException.class, () -> got.keep(k), what + ": past the last sequence");
    }

    @Test
    void aStreamOfBatchesInOneSlotPacksAsFreshSlotsDo() {
        SplittableRandom rng = new SplittableRandom(20261203);
        DType[] types = DType.values();
        List<String> backends = CollateTestSupport.availableBackends().stream()
                .filter(b -> b.equals("java") || b.equals("native")).toList();
        int compared = 0;
        int errors = 0;
        try (Arena arena = Arena.ofShared()) {
            for (int trial = 0; trial < 24; trial++) {
                DType src = types[rng.nextInt(types.length)];
                DType dst = rng.nextInt(3) == 0 ? src : types[rng.nextInt(types.length)];
                if (dst == DType.BOOL && src != DType.BOOL) {
                    dst = DType.INT8;
                }
                int features = rng.nextInt(4) == 0 ? 1 + rng.nextInt(3) : 1;
                SampleStore store = CollateTestSupport.randomStore(rng, arena, src, 1 + rng.nextInt(40), rng.nextInt(25),
                        features, rng.nextInt(5) > 0);
                Padding padding = Padding.builder().side(PadSide.POST).dtype(dst).positions(rng.nextBoolean())
                        .maxlen(1 + rng.nextInt(30)).truncation(rng.nextBoolean() ? PadSide.PRE : PadSide.POST)
                        .value(rng.nextInt(2)).build();
                int maxRows = 1 + rng.nextInt(12);
                long maxlen = padding.maxlen().orElseThrow();
                PaddedShape largest = new PaddedShape(maxRows, maxlen, features, maxlen, dst, padding.positions());
                for (String name : backends) {
                    SplittableRandom batches = new SplittableRandom(trial);
                    try (Collator c = Backends.create(name); Collator java = Backends.create("java");
                         BatchSlot slot = c.newSlot(largest, maxRows, padding)) {
                        PackLayout reusable = PackLayout.reusable();
                        FilledBatch previous = null;
                        for (int i = 0; i < 20; i++) {
                            long[] indices = batches.longs(1 + batches.nextInt(maxRows), 0, store.size()).toArray();
                            String what = "trial " + trial + ", batch " + i + ", " + name + " " + src + "->" + dst;
                            Packed want;
                            try (BatchSlot fresh = java.newSlot(largest, maxRows, padding)) {
                                want = Packed.of(java.fillPacked(fresh, store, indices, padding));
                            } catch (CollateException e) {
                                CollateException got = assertThrows(CollateException.class,
                                        () -> c.fillPacked(slot, store, indices, padding), what);
                                assertEquals(e.getMessage(), got.getMessage(), what);
                                errors++;
                                continue;
                            }
                            FilledBatch f = c.fillPacked(slot, store, indices, padding);
                            want.assertEqualTo(Packed.of(f), what);
                            PackLayout independent = PackLayout.of(store, indices, padding);
                            assertSameLayout(independent, f.packing().orElseThrow().layout(), what + ", the slot's layout");
                            assertSameLayout(independent, reusable.place(store, indices, padding), what + ", placed");
                            if (previous != null) {
                                assertSame(previous, f, what + ": the slot's one packed batch, reused");
                            }
                            previous = f;
                            compared++;
                        }
                    }
                }
            }
        }
        assertTrue(backends.contains("java"), "the java backend is always present: " + backends);
        assertTrue(compared > 100 && errors > 3, compared + " packed batches compared, " + errors + " errors");
    }

    @Test
    void anIndependentLayoutNeverChangesAndAFailedPlaceLeavesNone() {
        try (Arena arena = Arena.ofConfined()) {
            SampleStore store = CollateTestSupport.randomStore(new SplittableRandom(7), arena, DType.INT32, 10, 20, 1, true);
            Padding padding = Padding.builder().side(PadSide.POST).dtype(DType.INT32).maxlen(8)
                    .truncation(PadSide.POST).build();
            PackLayout of = PackLayout.of(store, new long[] {0, 1, 2}, padding);
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> of.place(store, new long[] {3}, padding));
            assertTrue(e.getMessage().contains("PackLayout.reusable()"), e.getMessage());
            assertEquals(3, of.sequences());

            PackLayout reusable = PackLayout.reusable();
            assertEquals(0, reusable.sequences());
            assertThrows(IllegalStateException.class, reusable::shape);
            reusable.place(store, new long[] {0, 1, 2, 3, 4}, padding);
            assertEquals(5, reusable.sequences());
            assertThrows(IndexOutOfBoundsException.class, () -> reusable.place(store, new long[] {0, 99}, padding));
            assertEquals(0, reusable.sequences());
            assertEquals(0, reusable.rows());
            assertThrows(IllegalStateException.class, reusable::shape);
            assertSameLayout(PackLayout.of(store, new long[] {4, 1}, padding), reusable.place(store, new long[] {4, 1},
                    padding), "placed again after a failure");

            Padding unbounded = Padding.builder().side(PadSide.POST).dtype(DType.INT32).build();
            assertThrows(IllegalArgumentException.class, () -> reusable.place(store, new long[] {0}, unbounded));
        }
    }

    /** Packing, like padding, is refused by a closed host collator (the java backend's used to go ahead). */
    @Test
    void aClosedCollatorRefusesToPack() {
        try (Arena arena = Arena.ofConfined()) {
            SampleStore store = CollateTestSupport.randomStore(new SplittableRandom(5), arena, DType.INT32, 10, 8, 1, true);
            Padding padding = Padding.builder().side(PadSide.POST).dtype(DType.INT32).maxlen(8)
                    .truncation(PadSide.POST).build();
            PaddedShape largest = new PaddedShape(4, 8, 1, 8, DType.INT32, false);
            for (String name : CollateTestSupport.availableBackends()) {
                if (!name.equals("java") && !name.equals("native")) {
                    continue;
                }
                Collator c = Backends.create(name);
                try (BatchSlot slot = c.newSlot(largest, 4, padding)) {
                    c.fillPacked(slot, store, new long[] {0, 1}, padding);   // open: packs
                    c.close();
                    IllegalStateException e = assertThrows(IllegalStateException.class,
                            () -> c.fillPacked(slot, store, new long[] {0, 1}, padding));
                    assertEquals(name + " collator is closed", e.getMessage());
                }
            }
        }
    }
}
