package io.cubatch.collate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cubatch.collate.internal.Conversions;
import io.cubatch.store.DType;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The Java twin of cb_convert.cuh against the JDK's own float16 conversions and textbook bfloat16 rounding. */
class ConversionsTest {

    @Test
    void decodesEveryFloat16LikeTheJdk() {
        for (int h = 0; h < 65536; h++) {
            double ours = Conversions.smallFloatToDouble(h, 5, 10);
            float jdk = Float.float16ToFloat((short) h);
            if (Float.isNaN(jdk)) {
                assertTrue(Double.isNaN(ours), Integer.toHexString(h));
            } else {
                assertEquals(Double.doubleToRawLongBits(jdk), Double.doubleToRawLongBits(ours), Integer.toHexString(h));
                assertEquals(h, Conversions.doubleToSmallFloat(ours, 5, 10), "round trip " + Integer.toHexString(h));
            }
        }
    }

    @Test
    void roundsFloatsToFloat16LikeTheJdk() {
        SplittableRandom rng = new SplittableRandom(1);
        for (int i = 0; i < 2_000_000; i++) {
            float f = Float.intBitsToFloat(rng.nextInt());
            if (Float.isNaN(f)) {
                continue;
            }
            short jdk = Float.floatToFloat16(f);
            int ours = Conversions.doubleToSmallFloat(f, 5, 10);
            if (Float.isInfinite(Float.float16ToFloat(jdk)) && !Float.isInfinite(f)) {
                assertEquals(Conversions.OVERFLOW, ours, "overflow for " + f);
            } else {
                assertEquals(Short.toUnsignedInt(jdk), ours, "float " + f);
            }
        }
    }

    @Test
    void roundsFloatsToBfloat16WithTheTextbookRule() {
        SplittableRandom rng = new SplittableRandom(2);
        for (int i = 0; i < 2_000_000; i++) {
            int bits = rng.nextInt();
            float f = Float.intBitsToFloat(bits);
            if (Float.isNaN(f)) {
                continue;
            }
            int reference = (int) ((Integer.toUnsignedLong(bits) + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
            int ours = Conversions.doubleToSmallFloat(f, 8, 7);
            if ((reference & 0x7fff) == 0x7f80 && !Float.isInfinite(f)) {
                assertEquals(Conversions.OVERFLOW, ours, "overflow for " + f);
            } else {
                assertEquals(reference, ours, "float " + f);
            }
        }
    }

    @Test
    void nanBecomesTheCanonicalQuietNan() {
        MemorySegment out = MemorySegment.ofArray(new long[1]);
        double payloadNan = Double.longBitsToDouble(0xfff0000000000123L);
        assertTrue(Conversions.storeDouble(out, DType.FLOAT32, 0, payloadNan));
        assertEquals(0x7fc00000, out.getAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, 0));
        assertTrue(Conversions.storeDouble(out, DType.FLOAT16, 0, payloadNan));
        assertEquals((short) 0x7e00, out.getAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, 0));
        assertTrue(Conversions.storeDouble(out, DType.BFLOAT16, 0, payloadNan));
        assertEquals((short) 0x7fc0, out.getAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, 0));
    }

    @Test
    void integersAreCheckedNotWrapped() {
        MemorySegment out = MemorySegment.ofArray(new long[1]);
        assertFalse(Conversions.storeLong(out, DType.INT8, 0, 128));
        assertFalse(Conversions.storeLong(out, DType.UINT16, 0, -1));
        assertFalse(Conversions.storeLong(out, DType.BOOL, 0, 2));
        assertFalse(Conversions.storeDouble(out, DType.INT32, 0, 1.5));
        assertFalse(Conversions.storeDouble(out, DType.INT64, 0, Double.NaN));
        assertFalse(Conversions.storeDouble(out, DType.INT64, 0, 9.223372036854775807E18));
        assertTrue(Conversions.storeDouble(out, DType.INT64, 0, -9.223372036854775808E18));
        assertFalse(Conversions.storeDouble(out, DType.FLOAT32, 0, 1e39));
        assertTrue(Conversions.storeDouble(out, DType.FLOAT32, 0, Double.POSITIVE_INFINITY));
        assertFalse(Conversions.storeLong(out, DType.FLOAT16, 0, 65520));
        assertTrue(Conversions.storeLong(out, DType.FLOAT16, 0, 65504));
    }

    /**
     * Float bits at bfloat16's edges: the largest that rounds to a finite value and the first that rounds to
     * infinity (both signs), infinities, NaNs whose rounding sum would wrap, ties, the smallest subnormal.
     */
    private static final int[] BFLOAT16_EDGES = {0x7f7f7fff, 0xff7f7fff, 0x7f7f8000, 0xff7f8000, 0x7f800000,
        0xff800000, 0x7fc00000, 0xffff8001, 0xffffffff, 0x7fff8000, 0x3f808000, 0x3f818000, 0xbf808000, 0x00000001,
        0x80008000, 0x7f7f0000};

    /**
     * The specialised runs (convertRun: int32/int64/float32 into float32/float16/bfloat16) write the bytes of
     * convert element by element and fail at the same first element: random float bits (a third of them near
     * float16's range), NaNs, infinities, every float16 value, integers around 2^24 and the float16 edge; in runs
     * within one of convertRun's chunks and across several. Float runs meet a value the fast loops leave to the
     * element loops in most chunks, so the floats are also run with those values left out (below bfloat16's and
     * float16's overflow), where every chunk takes the fast loops, bfloat16's edges and subnormals included.
     */
    @Test
    void convertRunsWriteTheBytesOfElementByElementConversion() {
        SplittableRandom rng = new SplittableRandom(13);
        int n = 200_000;
        MemorySegment f32 = MemorySegment.ofArray(new float[n]);
        MemorySegment i32 = MemorySegment.ofArray(new int[n]);
        MemorySegment i64 = MemorySegment.ofArray(new long[n]);
        long[] edges = {0, 65504, 65519, 65520, (1 << 24) - 1, 1 << 24, (1 << 24) + 1, Integer.MAX_VALUE, 33554435};
        for (int k = 0; k < n; k++) {
            int bits = rng.nextInt();
            if (k % 3 == 0) {
                bits = (bits & 0x807fffff) | ((100 + rng.nextInt(50)) << 23);
            }
            if (k % 89 == 0) {   // bfloat16's edges, spread so that runs meet them in either half of a pair
                bits = BFLOAT16_EDGES[rng.nextInt(BFLOAT16_EDGES.length)];
            }
            float f = k < 65536 ? Float.float16ToFloat((short) k) : Float.intBitsToFloat(bits);
            f32.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, k, f);
            long v = k % 97 == 0 ? edges[rng.nextInt(edges.length)] * (rng.nextBoolean() ? 1 : -1)
                    : rng.nextInt(70_000) - 35_000;
            i32.setAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, k, (int) v);
            i64.setAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG, k, k % 1001 == 0 ? Long.MIN_VALUE + k : v);
        }
        int runs = 0;
        for (DType from : new DType[] {DType.FLOAT32, DType.INT32, DType.INT64}) {
            MemorySegment src = from == DType.FLOAT32 ? f32 : from == DType.INT32 ? i32 : i64;
            for (DType to : new DType[] {DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16}) {
                if (from != to) {
                    runs += compareRuns(rng, src, from, to, 400);
                }
            }
        }
        assertTrue(runs > 1000, "most runs convert without a failure: " + runs);
        // floats below each 16-bit type's overflow: every chunk through the fast loops, and every run converts
        assertEquals(400, compareRuns(rng, below(f32, 0x7f7f8000), DType.FLOAT32, DType.BFLOAT16, 400));
        assertEquals(400, compareRuns(rng, below(f32, 0x477ff000), DType.FLOAT32, DType.FLOAT16, 400));
    }

    /** The floats of f whose magnitude bits lie below {@code limit}, in order. */
    private static MemorySegment below(MemorySegment f, int limit) {
        int[] bits = f.toArray(java.lang.foreign.ValueLayout.JAVA_INT);
        return MemorySegment.ofArray(java.util.Arrays.stream(bits).filter(b -> (b & 0x7fffffff) < limit).toArray());
    }

    /**
     * {@code trials} runs of src from random starts: convertRun against convert element by element (the first
     * failure, and the bytes where none fails). A quarter of the runs span several of convertRun's 1024-element
     * chunks. Returns how many runs converted without a failure.
     */
    private static int compareRuns(SplittableRandom rng, MemorySegment src, DType from, DType to, int trials) {
        long n = src.byteSize() / from.byteSize();
        int runs = 0;
        for (int trial = 0; trial < trials; trial++) {
            long at = rng.nextLong(n);
            int len = (int) Math.min(n - at, 1 + rng.nextInt(trial % 4 == 0 ? 3000 : 300));
            MemorySegment fast = MemorySegment.ofArray(new byte[len * to.byteSize()]);
            MemorySegment ref = MemorySegment.ofArray(new byte[len * to.byteSize()]);
            long want = -1;
            for (int e = 0; e < len; e++) {
                if (!Conversions.convert(src, from, at + e, ref, to, e)) {
                    want = e;
                    break;
                }
            }
            long got = Conversions.convertRun(src, from, at, fast, to, 0, len);
            assertEquals(want, got, from + " -> " + to + " at " + at + " (" + len + ")");
            if (want < 0) {
                assertEquals(-1, fast.mismatch(ref), from + " -> " + to + " at " + at + " (" + len + ")");
                runs++;
            }
        }
        return runs;
    }
}
