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
}
