package io.cubatch.collate;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.store.DType;
import io.cubatch.store.SampleStore;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each backend over each kind of contiguous store against {@link CollateTestSupport#reference}: a fixed-shape one
 * ({@code wrapFixed}, read through {@code SampleStore.offset}), and ragged ones, owned and borrowed (read from
 * their offsets directly by the java backend and by validation); and a store closed before the call, which
 * every backend refuses naming it. (Chunked stores: ArrowReaderTest.)
 */
class StoreKindsTest {
    static List<String> backends() {
        return CollateTestSupport.availableBackends();
    }

    private static final Padding[] PADDINGS = {
        Padding.builder().side(PadSide.POST).dtype(DType.INT32).build(),
        Padding.builder().side(PadSide.PRE).dtype(DType.INT64).value(-1).build(),
        Padding.builder().side(PadSide.POST).truncation(PadSide.PRE).maxlen(5).dtype(DType.INT32).build(),
        Padding.builder().side(PadSide.PRE).truncation(PadSide.POST).maxlen(3).dtype(DType.FLOAT32).positions(true).build(),
    };

    @ParameterizedTest
    @MethodSource("backends")
    void fixedAndRaggedStoresPadAsTheReference(String backend) {
        SplittableRandom rng = new SplittableRandom(42);
        try (Arena arena = Arena.ofShared(); Collator collator = Backends.create(backend)) {
            MemorySegment fixedValues = arena.allocate(4L * 50 * 7, 16);
            for (long i = 0; i < 50 * 7; i++) {
                fixedValues.setAtIndex(ValueLayout.JAVA_INT, i, rng.nextInt(1000));
            }
            int[][] sequences = new int[40][];
            for (int s = 0; s < sequences.length; s++) {
                sequences[s] = rng.ints(rng.nextInt(9), 0, 1000).toArray();   // empty samples among them
            }
            try (SampleStore fixed = SampleStore.wrapFixed(DType.INT32, 50, 7, new long[0], fixedValues);
                 SampleStore owned = SampleStore.of(sequences);
                 SampleStore borrowed = CollateTestSupport.randomStore(rng, arena, DType.INT32, 40, 8, 1, true)) {
                for (SampleStore store : new SampleStore[] {fixed, owned, borrowed}) {
                    for (int p = 0; p < PADDINGS.length; p++) {
                        Padding padding = PADDINGS[p];
                        for (int batch : new int[] {1, 3, 9, 17, 40}) {   // below, at and past the 8 rows loaded ahead
                            long[] indices = rng.longs(batch, 0, store.size()).toArray();
                            PaddedShape shape = collator.shape(store, indices, padding);
                            PaddedBatch got = PaddedBatch.allocate(shape, arena);
                            PaddedBatch want = PaddedBatch.allocate(shape, arena);
                            collator.pad(store, indices, padding, got);
                            CollateTestSupport.reference(store, indices, padding, want);
                            String what = backend + ", " + (store == fixed ? "fixed" : store == owned ? "owned" : "borrowed")
                                    + " store, PADDINGS[" + p + "], batch " + batch;
                            CollateTestSupport.assertSameBatch(want, got, what);
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("backends")
    void aClosedStoreIsRefusedNamingIt(String backend) {
        try (Arena arena = Arena.ofShared(); Collator collator = Backends.create(backend)) {
            MemorySegment fixedValues = arena.allocate(4L * 4 * 3, 16);
            SampleStore[] stores = {SampleStore.of(new int[][] {{1, 2}, {3}, {}}),
                SampleStore.wrapFixed(DType.INT32, 4, 3, new long[0], fixedValues)};
            Padding padding = PADDINGS[0];
            for (SampleStore store : stores) {
                long[] indices = {0, 2};
                PaddedBatch out = PaddedBatch.allocate(collator.shape(store, indices, padding), arena);
                store.close();
                IllegalStateException e = assertThrows(IllegalStateException.class,
                        () -> collator.pad(store, indices, padding, out));
                assertTrue(e.getMessage().contains("is closed"), backend + ": " + e.getMessage());
            }
        }
    }
}
