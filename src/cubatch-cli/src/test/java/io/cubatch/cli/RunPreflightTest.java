package io.cubatch.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cubatch.collate.internal.Conversions;
import io.cubatch.store.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** RunPreflight.canFail is exact on the extremes: it skips the value scan only where no value can fail. */
class RunPreflightTest {
    private static double[] candidates(DType t) {
        if (!t.isFloatingPoint()) {
            long[] r = Conversions.intRange(t);
            return new double[] {r[0], r[1], 0};
        }
        double big = switch (t) {
            case FLOAT16 -> 65504.0;
            case BFLOAT16 -> 0x1.FEp127;
            case FLOAT32 -> Float.MAX_VALUE;
            default -> Double.MAX_VALUE;
        };
        return new double[] {big, -big, 0.5, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0};
    }

    @Test
    void canFailIsTrueExactlyWhenAnExtremeValueDoesNotConvert() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(8, 8);
            MemorySegment dst = arena.allocate(8, 8);
            for (DType from : DType.values()) {
                for (DType to : DType.values()) {
                    boolean someFails = false;
                    for (double v : candidates(from)) {
                        boolean stored = from.isFloatingPoint() ? Conversions.storeDouble(src, from, 0, v)
                                : Conversions.storeLong(src, from, 0, (long) v);
                        if (stored && !Conversions.convert(src, from, 0, dst, to, 0)) {
                            someFails = true;
                        }
                    }
                    assertEquals(someFails, RunPreflight.canFail(from, to), from + " -> " + to);
                }
            }
        }
    }
}
