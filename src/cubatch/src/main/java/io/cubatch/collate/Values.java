package io.cubatch.collate;

import io.cubatch.collate.internal.Conversions;
import io.cubatch.store.DType;
import java.lang.foreign.MemorySegment;

/**
 * Single values of any {@link DType} in native memory, with the conversions every backend applies
 * (cuda/cb_convert.cuh): for code that prints or packs values outside a collator.
 */
public final class Values {
    private Values() {
    }

    /** Element {@code i} of an integer or bool array, as a long. */
    public static long loadLong(MemorySegment src, DType t, long i) {
        return Conversions.loadLong(src, t, i);
    }

    /** Element {@code i} of a float array, exactly, as a double. */
    public static double loadDouble(MemorySegment src, DType t, long i) {
        return Conversions.loadDouble(src, t, i);
    }

    /**
     * Converts element {@code si} of {@code src} ({@code from}) into element {@code di} of {@code dst}
     * ({@code to}) with the checked conversion of every backend; false when the value does not fit.
     */
    public static boolean convert(MemorySegment src, DType from, long si, MemorySegment dst, DType to, long di) {
        return Conversions.convert(src, from, si, dst, to, di);
    }

    /** {@code [min, max]} of an integer or bool dtype (what a value must lie in to be stored there). */
    public static long[] intRange(DType t) {
        return Conversions.intRange(t);
    }

    /** Element {@code i} as the error messages print it. */
    public static String describe(MemorySegment src, DType t, long i) {
        return Conversions.describe(src, t, i);
    }
}
