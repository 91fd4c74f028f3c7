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
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.statistics.Statistics;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Every backend present writes the same bytes as the reference (CollateTestSupport.reference), on seeded
 * random stores, index lists and paddings, and on an edge table: lengths 0, 1, maxlen-1, maxlen,
 * maxlen+1; B = 1; F > 1; every dtype pair with values at the dtype limits, NaN, infinities and signed
 * zeros. Outputs start as a sentinel with guard bytes around them, so an unwritten or overwritten byte fails.
 * Tagged {@code backends}: the build runs it once with the host backends and again under the CUDA driver
 * emulator (1 and 2 devices), where {@code cuda} is one of the backends present.
 */
@Tag("backends")
@net.jqwik.api.Tag("backends")
class CollatorEquivalenceTest {

    /**
     * Runs the reference and every backend; asserts identical bytes, or identical errors. Returns the outcome.
     * On the CUDA driver emulator, also that the backends left no violation and no live device resource.
     */
    static String assertAllBackendsMatch(SampleStore store, long[] indices, Padding padding, Arena arena) {
        io.cubatch.cuda.CudaEmulator.Counters before = io.cubatch.cuda.CudaEmulator.present()
                ? io.cubatch.cuda.CudaEmulator.counters() : null;
        String outcome = compareBackends(store, indices, padding, arena);
        if (before != null) {
            io.cubatch.cuda.CudaEmulator.assertCleanSince(before);
        }
        return outcome;
    }

    private static String compareBackends(SampleStore store, long[] indices, Padding padding, Arena arena) {
        PaddedShape shape;
        try {
            shape = Collation.shape(store, indices, padding);
        } catch (CollateException e) {
            for (String name : CollateTestSupport.availableBackends()) {
                try (Collator c = Backends.create(name)) {
                    CollateException ce = assertThrows(CollateException.class, () -> c.shape(store, indices, padding));
                    assertEquals(e.getMessage(), ce.getMessage(), name);
                }
            }
            return "too long";
        }
        CollateTestSupport.Guarded expected = CollateTestSupport.Guarded.allocate(shape, arena);
        String expectedError = null;
        try {
            CollateTestSupport.reference(store, indices, padding, expected.batch());
        } catch (CollateException e) {
            expectedError = e.getMessage();
        }
        for (String name : CollateTestSupport.availableBackends()) {
            CollateTestSupport.Guarded actual = CollateTestSupport.Guarded.allocate(shape, arena);
            try (Collator c = Backends.create(name)) {
                if (expectedError != null) {
                    CollateException e = assertThrows(CollateException.class,
                            () -> c.pad(store, indices, padding, actual.batch()), name);
                    assertEquals(expectedError, e.getMessage(), name);
                    continue;
                }
                c.pad(store, indices, padding, actual.batch());
            }
            assertTrue(actual.guardsIntact(), name + ": wrote outside its buffers");
            assertEquals(-1, expected.data().mismatch(actual.data()), name + ": data differs, " + shape);
            assertEquals(-1, expected.lengths().mismatch(actual.lengths()), name + ": lengths differ");
            assertEquals(-1, expected.mask().mismatch(actual.mask()), name + ": attention mask differs");
            assertEquals(-1, expected.positions().mismatch(actual.positions()), name + ": positions differ");
        }
        return expectedError == null ? "bytes equal" : expectedError.startsWith("pad value") ? "pad value error"
                : "value error";
    }

    @Property(tries = 400)
    void everyBackendWritesTheReferenceBytes(@ForAll long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        DType[] types = DType.values();
        try (Arena arena = Arena.ofConfined()) {
            DType src = types[rng.nextInt(types.length)];
            int features = rng.nextInt(4) == 0 ? 1 + rng.nextInt(3) : 1;
            SampleStore store = CollateTestSupport.randomStore(rng, arena, src, 1 + rng.nextInt(12), rng.nextInt(14), features,
                    rng.nextInt(3) > 0);
            long[] indices = new long[1 + rng.nextInt(9)];
            for (int i = 0; i < indices.length; i++) {
                indices[i] = rng.nextLong(store.size());
            }
            Padding.Builder p = Padding.builder().side(rng.nextBoolean() ? PadSide.PRE : PadSide.POST)
                    .dtype(types[rng.nextInt(types.length)]).positions(rng.nextBoolean());
            if (rng.nextBoolean()) {
                p.maxlen(1 + rng.nextInt(12));
            }
            if (rng.nextInt(3) == 0) {
                p.padToMultipleOf(1 + rng.nextInt(5));
            }
            if (rng.nextInt(3) > 0) {
                p.truncation(rng.nextBoolean() ? PadSide.PRE : PadSide.POST);
            }
            double[] padValues = {0, 0, 1, -1, 0.5, 65504, 1e10, -0.0};
            p.value(padValues[rng.nextInt(padValues.length)]);
            Padding padding = p.build();
            Statistics.collect(assertAllBackendsMatch(store, indices, padding, arena));
        }
        // most cases must compare real bytes, not only agree on an error
        Statistics.coverage(c -> c.check("bytes equal").percentage(p -> p > 45));
    }

    @Test
    void edgeLengthsAroundMaxlenWithFeatures() {
        int maxlen = 5;
        try (Arena arena = Arena.ofConfined()) {
            for (int features : new int[] {1, 3}) {
                long[] lengths = {0, 1, maxlen - 1, maxlen, maxlen + 1};
                MemorySegment offsets = arena.allocate(8L * (lengths.length + 1), 8);
                long total = 0;
                for (int i = 0; i < lengths.length; i++) {
                    offsets.setAtIndex(ValueLayout.JAVA_LONG, i, total);
                    total += lengths[i];
                }
                offsets.setAtIndex(ValueLayout.JAVA_LONG, lengths.length, total);
                MemorySegment values = arena.allocate(4 * total * features, 4);
                for (int i = 0; i < total * features; i++) {
                    values.setAtIndex(ValueLayout.JAVA_INT, i, 1000 + i);
                }
                SampleStore store = SampleStore.wrapRagged(DType.INT32,
                        features == 1 ? new long[0] : new long[] {features}, values, offsets);
                for (PadSide side : PadSide.values()) {
                    for (PadSide trunc : PadSide.values()) {
                        for (DType dst : new DType[] {DType.INT32, DType.INT64, DType.FLOAT16, DType.UINT16}) {
                            Padding padding = Padding.builder().side(side).truncation(trunc).maxlen(maxlen)
                                    .dtype(dst).value(dst == DType.UINT16 ? 7 : -1).positions(true).build();
                            assertAllBackendsMatch(store, new long[] {0, 1, 2, 3, 4}, padding, arena);
                            assertAllBackendsMatch(store, new long[] {4}, padding, arena);          // B = 1, too long
                            assertAllBackendsMatch(store, new long[] {0}, Padding.builder().side(side)
                                    .dtype(dst).build(), arena);                                     // all empty: L = 0
                        }
                    }
                }
            }
        }
    }

    /** Every (source, output) dtype pair over values at the limits, NaN, infinities and signed zeros. */
    @Test
    void everyDtypePairAtTheLimits() {
        double[] specials = {0.0, -0.0, 1.0, -1.0, 0.5, 127, 128, -128, -129, 255, 256, 32767, 32768, -32768,
                65504, 65519, 65520, 65535, 65536, 2147483647, 2147483648.0, -2147483648.0, 9.007199254740993E15,
                3.4028234663852886E38, 3.4028235677973366E38, 1e-8, 5.960464477539063E-8, 1e300,
                Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.MIN_VALUE};
        long[] intSpecials = {0, 1, -1, 127, 128, -128, -129, 255, 256, 32767, 32768, -32768, 65535, 65536,
                Integer.MAX_VALUE, Integer.MIN_VALUE, 1L << 53, (1L << 53) + 1, Long.MAX_VALUE, Long.MIN_VALUE};
        try (Arena arena = Arena.ofConfined()) {
            for (DType src : DType.values()) {
                int n = src.isFloatingPoint() ? specials.length : intSpecials.length;
                MemorySegment values = arena.allocate((long) n * src.byteSize(), 8);
                int count = 0;
                for (int i = 0; i < n; i++) {
                    boolean ok = src.isFloatingPoint()
                            ? io.cubatch.collate.internal.Conversions.storeDouble(values, src, count, specials[i])
                            : io.cubatch.collate.internal.Conversions.storeLong(values, src, count, intSpecials[i]);
                    if (ok) {
                        count++;
                    }
                }
                MemorySegment offsets = arena.allocate(8L * (count + 1), 8);
                for (int i = 0; i <= count; i++) {
                    offsets.setAtIndex(ValueLayout.JAVA_LONG, i, i);   // one value per sample
                }
                SampleStore store = SampleStore.wrapRagged(src, new long[0], values.asSlice(0, (long) count * src.byteSize()), offsets);
                for (DType dst : DType.values()) {
                    for (int s = 0; s < count; s++) {
                        assertAllBackendsMatch(store, new long[] {s}, Padding.builder().side(PadSide.POST).maxlen(2)
                                .dtype(dst).build(), arena);
                    }
                }
            }
        }
    }

    @Test
    void padValueThatDoesNotFitIsAnError() {
        try (SampleStore store = SampleStore.of(new int[][] {{1}})) {
            for (String name : CollateTestSupport.availableBackends()) {
                try (Collator c = Backends.create(name); Arena arena = Arena.ofConfined()) {
                    Padding padding = Padding.builder().side(PadSide.POST).maxlen(3).dtype(DType.UINT8).value(-1).build();
                    PaddedShape shape = c.shape(store, new long[] {0}, padding);
                    CollateException e = assertThrows(CollateException.class,
                            () -> c.pad(store, new long[] {0}, padding, PaddedBatch.allocate(shape, arena)));
                    assertTrue(e.getMessage().contains("pad value -1.0 does not fit uint8 (integers in [0, 255])"),
                            e.getMessage());
                }
            }
        }
    }
}
