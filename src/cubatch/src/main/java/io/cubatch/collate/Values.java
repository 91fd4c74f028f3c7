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

    /**
     * Element {@code i} of an integer or bool array, as a long.
     *
     * @param src the array
     * @param t its element type, an integer type or bool
     * @param i the element's index, in elements
     * @return the value, sign- or zero-extended; bool as 0 or 1
     * @throws IllegalArgumentException when {@code t} is a float type
     */
    public static long loadLong(MemorySegment src, DType t, long i) {
        return Conversions.loadLong(src, t, i);
    }

    /**
     * Element {@code i} of a float array, exactly, as a double.
     *
     * @param src the array
     * @param t its element type: float16, bfloat16, float32 or float64
     * @param i the element's index, in elements
     * @return the value
     * @throws IllegalArgumentException when {@code t} is an integer type
     */
    public static double loadDouble(MemorySegment src, DType t, long i) {
        return Conversions.loadDouble(src, t, i);
    }

    /**
     * Converts element {@code si} of {@code src} ({@code from}) into element {@code di} of {@code dst}
     * ({@code to}) with the checked conversion of every backend; false when the value does not fit.
     *
     * @param src the source array
     * @param from its element type
     * @param si the source element's index, in elements
     * @param dst the destination array
     * @param to its element type
     * @param di the destination element's index, in elements
     * @return true when written; false when the value does not fit {@code to} (then nothing is written)
     */
    public static boolean convert(MemorySegment src, DType from, long si, MemorySegment dst, DType to, long di) {
        return Conversions.convert(src, from, si, dst, to, di);
    }

    /**
     * {@code [min, max]} of an integer or bool dtype (what a value must lie in to be stored there).
     *
     * @param t an integer type or bool
     * @return a new array {@code {min, max}}
     * @throws IllegalArgumentException when {@code t} is a float type
     */
    public static long[] intRange(DType t) {
        return Conversions.intRange(t);
    }

    /**
     * Element {@code i} as the error messages print it.
     *
     * @param src the array
     * @param t its element type
     * @param i the element's index, in elements
     * @return the value in decimal
     */
    public static String describe(MemorySegment src, DType t, long i) {
        return Conversions.describe(src, t, i);
    }
}
