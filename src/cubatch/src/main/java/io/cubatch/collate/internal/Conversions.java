package io.cubatch.collate.internal;

import io.cubatch.store.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The Java twin of {@code cuda/cb_convert.cuh}, line for line, so that the java backend writes the same
 * bytes as the native and CUDA ones: load an element as a long (integer sources) or an exact double
 * (float sources), store it checked into the output dtype. See the header for the rules.
 */
public final class Conversions {
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED;

    private Conversions() {
    }

    /** True when element {@code i} of {@code src} is a float type (then read {@link #loadDouble}). */
    public static boolean isFloat(DType t) {
        return t.isFloatingPoint();
    }

    /**
     * Whether a same-dtype element is copied as its bits (cb_bit_copy): every dtype but bool, whose byte is
     * normalised by {@link #loadLong} (any nonzero byte is 1, as NumPy reads a bool array holding 2 or 255).
     */
    public static boolean isBitCopy(DType src, DType dst) {
        return src == dst && src != DType.BOOL;
    }

    /** Element {@code i} of an integer or bool array; a bool is 0 or 1 whatever nonzero byte holds it. */
    public static long loadLong(MemorySegment src, DType t, long i) {
        return switch (t) {
            case BOOL -> src.get(ValueLayout.JAVA_BYTE, i) != 0 ? 1 : 0;
            case UINT8 -> Byte.toUnsignedLong(src.get(ValueLayout.JAVA_BYTE, i));
            case INT8 -> src.get(ValueLayout.JAVA_BYTE, i);
            case INT16 -> src.getAtIndex(I16, i);
            case UINT16 -> Short.toUnsignedLong(src.getAtIndex(I16, i));
            case INT32 -> src.getAtIndex(I32, i);
            case INT64 -> src.getAtIndex(I64, i);
            default -> throw new IllegalArgumentException(t + " is a float type");
        };
    }

    public static double loadDouble(MemorySegment src, DType t, long i) {
        return switch (t) {
            case FLOAT16 -> smallFloatToDouble(Short.toUnsignedInt(src.getAtIndex(I16, i)), 5, 10);
            case BFLOAT16 -> Float.intBitsToFloat(Short.toUnsignedInt(src.getAtIndex(I16, i)) << 16);
            case FLOAT32 -> src.getAtIndex(F32, i);
            case FLOAT64 -> src.getAtIndex(F64, i);
            default -> throw new IllegalArgumentException(t + " is an integer type");
        };
    }

    /** Decodes a small IEEE float to double, exactly (cb_small_float_to_double). */
    public static double smallFloatToDouble(int bits, int expBits, int mantBits) {
        int bias = (1 << (expBits - 1)) - 1;
        int sign = bits >>> (expBits + mantBits);
        int exp = (bits >>> mantBits) & ((1 << expBits) - 1);
        int mant = bits & ((1 << mantBits) - 1);
        double v;
        if (exp == (1 << expBits) - 1) {
            v = mant != 0 ? Double.NaN : Double.POSITIVE_INFINITY;
        } else if (exp == 0) {
            v = mant * Math.scalb(1.0, 1 - bias - mantBits);
        } else {
            v = (mant | (1 << mantBits)) * Math.scalb(1.0, exp - bias - mantBits);
        }
        return sign != 0 ? -v : v;
    }

    /** Returned by {@link #doubleToSmallFloat} on overflow (no valid encoding is negative). */
    public static final int OVERFLOW = -1;

    /** Rounds a double to float16 (5, 10) or bfloat16 (8, 7), nearest-even; {@link #OVERFLOW} on overflow. */
    public static int doubleToSmallFloat(double d, int expBits, int mantBits) {
        long b = Double.doubleToRawLongBits(d);
        int sign = (int) (b >>> 63) << (expBits + mantBits);
        int exp = (int) ((b >>> 52) & 0x7ff);
        long mant = b & ((1L << 52) - 1);
        int inf = ((1 << expBits) - 1) << mantBits;
        if (exp == 0x7ff) {
            return mant != 0 ? inf | (1 << (mantBits - 1)) : sign | inf;
        }
        if (exp == 0) {
            return sign;
        }
        int bias = (1 << (expBits - 1)) - 1;
        int e = exp - 1023;
        long m = mant | (1L << 52);
        int shift;
        int outExp;
        if (e >= 1 - bias) {
            shift = 52 - mantBits;
            outExp = e + bias;
            m &= (1L << 52) - 1;
        } else {
            shift = 52 - mantBits + (1 - bias - e);
            outExp = 0;
        }
        if (e > bias) {
            return OVERFLOW;
        }
        if (shift >= 64) {
            return sign;
        }
        long kept = m >>> shift;
        long rest = m & ((1L << shift) - 1);
        long half = 1L << (shift - 1);
        int value = (outExp << mantBits) + (int) kept;
        if (Long.compareUnsigned(rest, half) > 0 || (rest == half && (value & 1) != 0)) {
            value++;
        }
        if (value >= inf) {
            return OVERFLOW;
        }
        return sign | value;
    }

    /** Stores integer {@code v} as element {@code i} of {@code dst}; false when it does not fit. */
    public static boolean storeLong(MemorySegment dst, DType t, long i, long v) {
        switch (t) {
            case BOOL -> {
                if (v < 0 || v > 1) return false;
                dst.set(ValueLayout.JAVA_BYTE, i, (byte) v);
            }
            case UINT8 -> {
                if (v < 0 || v > 255) return false;
                dst.set(ValueLayout.JAVA_BYTE, i, (byte) v);
            }
            case INT8 -> {
                if (v < -128 || v > 127) return false;
                dst.set(ValueLayout.JAVA_BYTE, i, (byte) v);
            }
            case INT16 -> {
                if (v < -32768 || v > 32767) return false;
                dst.setAtIndex(I16, i, (short) v);
            }
            case UINT16 -> {
                if (v < 0 || v > 65535) return false;
                dst.setAtIndex(I16, i, (short) v);
            }
            case INT32 -> {
                if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) return false;
                dst.setAtIndex(I32, i, (int) v);
            }
            case INT64 -> dst.setAtIndex(I64, i, v);
            case FLOAT64 -> dst.setAtIndex(F64, i, (double) v);
            case FLOAT32 -> dst.setAtIndex(F32, i, (float) v);
            case FLOAT16, BFLOAT16 -> {
                return storeSmall(dst, t, i, (double) v);
            }
        }
        return true;
    }

    /** Stores float {@code d} as element {@code i} of {@code dst}; false when it does not fit. */
    public static boolean storeDouble(MemorySegment dst, DType t, long i, double d) {
        switch (t) {
            case BOOL, UINT8, INT8, INT16, UINT16, INT32 -> {
                long[] range = intRange(t);
                if (!(d >= range[0] && d < range[1] + 1.0)) return false;
                long v = (long) d;
                if (v != d) return false;
                return storeLong(dst, t, i, v);
            }
            case INT64 -> {
                if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return false;
                long v = (long) d;
                if (v != d) return false;
                dst.setAtIndex(I64, i, v);
            }
            case FLOAT64 -> dst.setAtIndex(F64, i, Double.isNaN(d) ? Double.longBitsToDouble(0x7ff8000000000000L) : d);
            case FLOAT32 -> {
                float f;
                if (Double.isNaN(d)) {
                    f = Float.intBitsToFloat(0x7fc00000);
                } else {
                    f = (float) d;
                    if (Float.isInfinite(f) && !Double.isInfinite(d)) return false;
                }
                dst.setAtIndex(F32, i, f);
            }
            case FLOAT16, BFLOAT16 -> {
                return storeSmall(dst, t, i, d);
            }
        }
        return true;
    }

    private static boolean storeSmall(MemorySegment dst, DType t, long i, double d) {
        int h = t == DType.FLOAT16 ? doubleToSmallFloat(d, 5, 10) : doubleToSmallFloat(d, 8, 7);
        if (h == OVERFLOW) return false;
        dst.setAtIndex(I16, i, (short) h);
        return true;
    }

    /** The [min, max] of an integer dtype. */
    public static long[] intRange(DType t) {
        return switch (t) {
            case BOOL -> new long[] {0, 1};
            case UINT8 -> new long[] {0, 255};
            case INT8 -> new long[] {-128, 127};
            case INT16 -> new long[] {-32768, 32767};
            case UINT16 -> new long[] {0, 65535};
            case INT32 -> new long[] {Integer.MIN_VALUE, Integer.MAX_VALUE};
            case INT64 -> new long[] {Long.MIN_VALUE, Long.MAX_VALUE};
            default -> throw new IllegalArgumentException(t + " is a float type");
        };
    }

    /**
     * Converts {@code count} consecutive elements, {@code src[si..]} into {@code dst[di..]}: the bytes of
     * {@link #convert} element by element, with specialised loops for int32/int64/float32 into
     * float32/float16/bfloat16 ({@code Float.floatToFloat16}, an intrinsic where the CPU has F16C; bfloat16 by
     * its bits), the twin of libcubatch's FastConvert. Returns -1, or the index (in {@code dst}) of the first
     * element that does not fit; on a failure the output is unspecified.
     */
    public static long convertRun(MemorySegment src, DType from, long si, MemorySegment dst, DType to, long di,
                                  long count) {
        return convertRun(src, from, si, dst, to, di, count, SCRATCH.get());
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /**
     * Heap arrays for the chunked conversions of {@link #convertRun}: one chunk of each element type, and
     * segments over the int and float arrays for reading floats as their bits. Owned by one thread at a time
     * (a collator holds one), reused for every batch: nothing is allocated per row.
     */
    public static final class Scratch {
        static final int CHUNK = 1024;
        final int[] ints = new int[CHUNK];
        final float[] floats = new float[CHUNK];
        final MemorySegment intSegment = MemorySegment.ofArray(ints);
        final MemorySegment floatSegment = MemorySegment.ofArray(floats);

        /** The sum of the first bytes JavaCollator touches per row, stored so that the JIT keeps those loads. */
        long sink;

        /** Empty chunks, for one thread at a time. */
        public Scratch() {
        }
    }

    /**
     * {@link #convertRun(MemorySegment, DType, long, MemorySegment, DType, long, long)} with the caller's
     * scratch arrays. For int32/int64/float32 into float16/bfloat16 (and int32 into float32) it works in chunks
     * of {@link Scratch#CHUNK}, in branch-free loops the JIT vectorises (int to float,
     * {@code Float.floatToFloat16} or bfloat16 rounding by the bits, with a max-reduction over the floats'
     * magnitudes, or over the integers' range where float would round twice or float16 overflow). A chunk
     * whose reductions show a special value (an infinity or NaN result, an integer past 2^24 for bfloat16) is
     * redone by the element loops, which settle it as cb_convert.cuh does and name the first element that
     * does not fit.
     *
     * @param src the source elements
     * @param from their dtype
     * @param si the first source element
     * @param dst the output
     * @param to its dtype
     * @param di the first output element
     * @param count how many
     * @param scratch the caller's chunk arrays
     * @return -1, or the index (in {@code dst}) of the first element that does not fit
     */
    public static long convertRun(MemorySegment src, DType from, long si, MemorySegment dst, DType to, long di,
                                  long count, Scratch scratch) {
        boolean fastFrom = from == DType.INT32 || from == DType.INT64 || from == DType.FLOAT32;
        if (from != to && fastFrom && (to == DType.FLOAT16 || to == DType.BFLOAT16
                || to == DType.FLOAT32 && from == DType.INT32)) {
            for (long at = 0; at < count; at += Scratch.CHUNK) {
                int n = (int) Math.min(Scratch.CHUNK, count - at);
                if (!chunk(src, from, si + at, dst, to, di + at, n, scratch)) {
                    long bad = elementRun(src, from, si + at, dst, to, di + at, n);
                    if (bad >= 0) {
                        return bad;
                    }
                }
            }
            return -1;
        }
        return elementRun(src, from, si, dst, to, di, count);
    }

    /** Float bits from which float16 rounds to infinity (65520), or is NaN. */
    private static final int HALF_SPECIAL = 0x477ff000;
    /** Float bits from which bfloat16 rounds to infinity (0x7f7f8000, a tie that rounds up), or is NaN. */
    private static final int BFLOAT16_SPECIAL = 0x7f7f8000;

    /**
     * One chunk of n elements; false (having written nothing) when the chunk holds a value the fast loops do
     * not settle, which the element loops then must: an integer outside float16's finite range, or past 2^24
     * (inexact as a float, where bfloat16 would round twice), a float that rounds to infinity or is NaN.
     *
     * <p>Each loop is a counted loop with an int index, over a heap array on one side and a segment or array on
     * the other, with at most an integer min/max/or reduction, which C2 vectorises. What kept C2 scalar in this
     * session's measurements (JDK 25, Zen 4): a long loop index, two native segments (which may overlap) in one
     * loop, a narrowing from int to short, and {@code Float.floatToRawIntBits}. So an int32 source is read where
     * it lies into the float array (int64 into the int array first; a float32 source, and int32 into float32,
     * by a bulk copy), float16 and bfloat16 results are written where they go (no copy out), and bfloat16 takes
     * its float bits from a scratch array read as longs, two floats to a long ({@link #bfloat16Pairs}).
     */
    private static boolean chunk(MemorySegment src, DType from, long si, MemorySegment dst, DType to, long di, int n,
                                 Scratch s) {
        float[] f = s.floats;
        int[] v = s.ints;
        if (from == DType.FLOAT32) {
            MemorySegment.copy(src, I32, si * 4, v, 0, n);   // the floats' bits, for the check
            int top = 0;
            for (int i = 0; i < n; i++) {
                top = Math.max(top, v[i] & 0x7fffffff);
            }
            if (top >= (to == DType.FLOAT16 ? HALF_SPECIAL : BFLOAT16_SPECIAL)) {
                return false;
            }
            if (to == DType.FLOAT16) {
                MemorySegment.copy(src, F32, si * 4, f, 0, n);
                halves(f, dst, di, n);
            } else {
                bfloat16Pairs(s.intSegment, 0, dst, di * 2, n);
            }
            return true;
        }
        int lo = 0;
        int hi = 0;
        if (from == DType.INT32) {
            if (to == DType.FLOAT32) {   // one rounding, as the C cast: every int32 converts
                MemorySegment.copy(src, I32, si * 4, v, 0, n);
                for (int i = 0; i < n; i++) {
                    f[i] = v[i];
                }
                MemorySegment.copy(f, 0, dst, F32, di * 4, n);
                return true;
            }
            for (int i = 0; i < n; i++) {
                int x = src.getAtIndex(I32, si + i);
                f[i] = x;
                lo = Math.min(lo, x);
                hi = Math.max(hi, x);
            }
        } else {
            long any = 0;
            for (int i = 0; i < n; i++) {
                long w = src.getAtIndex(I64, si + i);
                v[i] = (int) w;
                any |= w + (1L << 24);   // in [0, 2^25) exactly when w is in [-2^24, 2^24)
            }
            if (any >>> 25 != 0) {
                return false;
            }
            for (int i = 0; i < n; i++) {
                f[i] = v[i];
                lo = Math.min(lo, v[i]);
                hi = Math.max(hi, v[i]);
            }
        }
        int limit = to == DType.FLOAT16 ? 65504 : (1 << 24) - 1;   // exact as floats, and finite in the output
        if (lo < -limit || hi > limit) {
            return false;
        }
        if (to == DType.FLOAT16) {
            halves(f, dst, di, n);
        } else {
            bfloat16Pairs(s.floatSegment, 0, dst, di * 2, n);
        }
        return true;
    }

    /**
     * float16 of n finite floats below 65520 in magnitude into n elements of {@code dst} from element {@code di}
     * ({@code Float.floatToFloat16}: F16C, vectorised; a heap array on one side, so C2 need not fear overlap).
     */
    private static void halves(float[] f, MemorySegment dst, long di, int n) {
        for (int i = 0; i < n; i++) {
            dst.setAtIndex(I16, di + i, Float.floatToFloat16(f[i]));
        }
    }

    /**
     * bfloat16 of n float bits at byte {@code from} of {@code bits}, below BFLOAT16_SPECIAL in magnitude, round
     * to nearest even, into n elements at byte {@code to} of {@code dst}: two floats' bits read as one long, each
     * half rounded in its long lane (no carry leaves a half below that magnitude), and the two results written as
     * one int, by a long-to-int narrowing, which C2 vectorises (an int-to-short narrowing it keeps scalar: 0.28 ns
     * an element, against 0.1 for this loop on issue 13's fifth-session Zen 4). Either byte order: the float
     * first in memory is the low half of the long and of the int on a little-endian machine, the high half of
     * both on a big-endian one, and the lanes are independent. An odd last element is rounded alone; nothing past
     * the n elements is read or written.
     */
    private static void bfloat16Pairs(MemorySegment bits, long from, MemorySegment dst, long to, int n) {
        int m = n >>> 1;
        for (int i = 0; i < m; i++) {
            long x = bits.get(I64, from + 8L * i);
            long r = x + 0x00007fff_00007fffL + ((x >>> 16) & 0x00000001_00000001L);
            dst.set(I32, to + 4L * i, (int) (((r >>> 16) & 0xffffL) | ((r >>> 32) & 0xffff0000L)));
        }
        if ((n & 1) != 0) {
            int x = bits.get(I32, from + 8L * m);
            dst.set(I16, to + 4L * m, (short) ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16));
        }
    }

    /** The element loops of {@link #convertRun}: per element, specialised per dtype pair. */
    private static long elementRun(MemorySegment src, DType from, long si, MemorySegment dst, DType to, long di,
                                   long count) {
        boolean fastFrom = from == DType.INT32 || from == DType.INT64 || from == DType.FLOAT32;
        if (from != to && fastFrom) {
            switch (to) {
                case FLOAT32 -> {
                    if (from == DType.INT32) {
                        for (long e = 0; e < count; e++) {
                            dst.setAtIndex(F32, di + e, (float) src.getAtIndex(I32, si + e));
                        }
                    } else {
                        for (long e = 0; e < count; e++) {
                            dst.setAtIndex(F32, di + e, (float) src.getAtIndex(I64, si + e));
                        }
                    }
                    return -1;
                }
                case FLOAT16 -> {
                    return toHalfRun(src, from, si, dst, di, count);
                }
                case BFLOAT16 -> {
                    return toBfloat16Run(src, from, si, dst, di, count);
                }
                default -> {
                }
            }
        }
        for (long e = 0; e < count; e++) {
            if (!convert(src, from, si + e, dst, to, di + e)) {
                return di + e;
            }
        }
        return -1;
    }

    /** |v| below 2^24: exact as a float, so float rounding is the one rounding cb_convert.cuh does. */
    private static boolean exactAsFloat(long v) {
        return v > -(1L << 24) && v < (1L << 24);
    }

    private static long toHalfRun(MemorySegment src, DType from, long si, MemorySegment dst, long di, long count) {
        for (long e = 0; e < count; e++) {
            float f;
            if (from == DType.FLOAT32) {
                f = src.getAtIndex(F32, si + e);
            } else {
                long v = from == DType.INT32 ? src.getAtIndex(I32, si + e) : src.getAtIndex(I64, si + e);
                if (!exactAsFloat(v)) {
                    return di + e;   // far past float16's largest finite value (65504): does not fit
                }
                f = v;
            }
            short h = Float.floatToFloat16(f);
            if ((h & 0x7c00) == 0x7c00) {   // infinity or NaN: settle as cb_convert.cuh does
                if (Float.isNaN(f)) {
                    h = 0x7e00;
                } else if (!Float.isInfinite(f)) {
                    return di + e;   // a finite value rounded to infinity
                }
            }
            dst.setAtIndex(I16, di + e, h);
        }
        return -1;
    }

    private static long toBfloat16Run(MemorySegment src, DType from, long si, MemorySegment dst, long di, long count) {
        for (long e = 0; e < count; e++) {
            float f;
            if (from == DType.FLOAT32) {
                f = src.getAtIndex(F32, si + e);
            } else {
                long v = from == DType.INT32 ? src.getAtIndex(I32, si + e) : src.getAtIndex(I64, si + e);
                if (!exactAsFloat(v)) {   // float would round it twice: the defining conversion instead
                    if (!convert(src, from, si + e, dst, DType.BFLOAT16, di + e)) {
                        return di + e;
                    }
                    continue;
                }
                f = v;
            }
            int x = Float.floatToRawIntBits(f);
            int m = x & 0x7fffffff;
            int r = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
            if (m > 0x7f800000) {
                r = 0x7fc0;
            } else if ((r & 0x7fff) == 0x7f80 && m != 0x7f800000) {
                return di + e;
            }
            dst.setAtIndex(I16, di + e, (short) r);
        }
        return -1;
    }

    /** Converts element {@code si} of src to element {@code di} of dst; false when it does not fit. */
    public static boolean convert(MemorySegment src, DType from, long si, MemorySegment dst, DType to, long di) {
        return isFloat(from) ? storeDouble(dst, to, di, loadDouble(src, from, si))
                : storeLong(dst, to, di, loadLong(src, from, si));
    }

    /** Element {@code i} of {@code src} as text, for messages. */
    public static String describe(MemorySegment src, DType t, long i) {
        return isFloat(t) ? Double.toString(loadDouble(src, t, i)) : Long.toString(loadLong(src, t, i));
    }
}
