// cb_convert.cuh: checked element conversion between the cubatch dtypes, bit-exact on CPU and GPU.
//
// A value is loaded as an int64 (integer and bool sources) or a double (float sources, exactly), then
// stored into the output dtype. A bool byte loads as 0 or 1: any nonzero byte is true (NumPy's reading of
// a bool array holding 2 or 255), so bool data is never bit-copied (cb_bit_copy).
//   - to an integer dtype: the value must be an integer in range (a float must be finite and integral);
//     bool takes only 0 and 1. Anything else fails: CB_ERR_VALUE_DOES_NOT_FIT, never a wrap.
//   - to float64: exact from floats, round-to-nearest-even from int64.
//   - to float32: round-to-nearest-even (a C cast); a finite value that rounds to infinity fails.
//   - to float16 / bfloat16: round-to-nearest-even from the double (integers go through double first),
//     by the bit-level routine below (no intrinsics, so host and device agree); overflow fails.
//   - NaN becomes the canonical quiet NaN of the output float type (payload and sign are not kept);
//     infinities and signed zeros are kept.
// Same-dtype copies other than bool do not come through here: they are bit copies (cb_pad.cuh).
#pragma once
#include "cb_common.cuh"

typedef struct {
    int is_float;
    int64_t i;
    double d;
} cb_scalar;

CB_HD uint64_t cb_double_bits(double d) { uint64_t b; memcpy(&b, &d, 8); return b; }
CB_HD double cb_bits_double(uint64_t b) { double d; memcpy(&d, &b, 8); return d; }
CB_HD uint32_t cb_float_bits(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }
CB_HD float cb_bits_float(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }

// 2^e for integer e in [-1074, 1023], exact, without libm.
CB_HD double cb_pow2(int e) {
    if (e < -1022) {
        return cb_bits_double((uint64_t) 1 << (e + 1074));  // subnormal
    }
    return cb_bits_double((uint64_t) (e + 1023) << 52);
}

// Decodes a small IEEE float (sign, exp_bits, mant_bits) to double, exactly.
CB_HD double cb_small_float_to_double(uint32_t bits, int exp_bits, int mant_bits) {
    int bias = (1 << (exp_bits - 1)) - 1;
    uint32_t sign = bits >> (exp_bits + mant_bits);
    uint32_t exp = (bits >> mant_bits) & ((1u << exp_bits) - 1);
    uint32_t mant = bits & ((1u << mant_bits) - 1);
    double v;
    if (exp == (1u << exp_bits) - 1) {
        v = mant ? cb_bits_double(0x7ff8000000000000ULL) : cb_bits_double(0x7ff0000000000000ULL);
    } else if (exp == 0) {
        v = (double) mant * cb_pow2(1 - bias - mant_bits);
    } else {
        v = (double) (mant | (1u << mant_bits)) * cb_pow2((int) exp - bias - mant_bits);
    }
    return sign ? -v : v;
}

// Rounds a double to a small IEEE float (float16: 5/10, bfloat16: 8/7), nearest-even. Sets *overflow when
// a finite value rounds to infinity. NaN gives the canonical quiet NaN (0x7e00, 0x7fc0).
CB_HD uint32_t cb_double_to_small_float(double d, int exp_bits, int mant_bits, int* overflow) {
    uint64_t b = cb_double_bits(d);
    uint32_t sign = (uint32_t) (b >> 63) << (exp_bits + mant_bits);
    int exp = (int) ((b >> 52) & 0x7ff);
    uint64_t mant = b & ((1ULL << 52) - 1);
    uint32_t inf = ((1u << exp_bits) - 1) << mant_bits;
    if (exp == 0x7ff) {
        return mant ? inf | (1u << (mant_bits - 1)) : sign | inf;
    }
    if (exp == 0) {
        return sign;  // zero, or a double subnormal: far below the smallest small-float subnormal
    }
    int bias = (1 << (exp_bits - 1)) - 1;
    int e = exp - 1023;                 // unbiased exponent of the double
    uint64_t m = mant | (1ULL << 52);   // 53-bit significand
    int shift;                          // bits of m dropped
    uint32_t out_exp;
    if (e >= 1 - bias) {
        shift = 52 - mant_bits;
        out_exp = (uint32_t) (e + bias);
        m &= (1ULL << 52) - 1;          // the implicit bit goes into the exponent field
    } else {
        shift = 52 - mant_bits + (1 - bias - e);
        out_exp = 0;
    }
    if (e > bias) {
        *overflow = 1;
        return sign | inf;
    }
    uint64_t kept;
    uint64_t rest;
    uint64_t half;
    if (shift >= 64) {
        return sign;
    }
    kept = m >> shift;
    rest = m & ((1ULL << shift) - 1);
    half = 1ULL << (shift - 1);
    uint32_t value = (out_exp << mant_bits) + (uint32_t) kept;
    if (rest > half || (rest == half && (value & 1))) {
        value++;                        // a carry into the exponent is the right result
    }
    if (value >= inf) {
        *overflow = 1;
        return sign | inf;
    }
    return sign | value;
}

// Element i of an array of the given dtype (unaligned reads are fine).
CB_HD cb_scalar cb_load(const void* base, int dtype, int64_t i) {
    const unsigned char* p = (const unsigned char*) base + i * cb_dtype_size(dtype);
    cb_scalar s;
    s.is_float = 0;
    s.i = 0;
    s.d = 0;
    switch (dtype) {
        case CB_BOOL: s.i = *p != 0; break;
        case CB_UINT8: s.i = *p; break;
        case CB_INT8: s.i = (int8_t) *p; break;
        case CB_INT16: { int16_t v; memcpy(&v, p, 2); s.i = v; break; }
        case CB_UINT16: { uint16_t v; memcpy(&v, p, 2); s.i = v; break; }
        case CB_INT32: { int32_t v; memcpy(&v, p, 4); s.i = v; break; }
        case CB_INT64: { int64_t v; memcpy(&v, p, 8); s.i = v; break; }
        case CB_FLOAT16: { uint16_t v; memcpy(&v, p, 2); s.is_float = 1; s.d = cb_small_float_to_double(v, 5, 10); break; }
        case CB_BFLOAT16: { uint16_t v; memcpy(&v, p, 2); s.is_float = 1; s.d = (double) cb_bits_float((uint32_t) v << 16); break; }
        case CB_FLOAT32: { float v; memcpy(&v, p, 4); s.is_float = 1; s.d = (double) v; break; }
        case CB_FLOAT64: { double v; memcpy(&v, p, 8); s.is_float = 1; s.d = v; break; }
        default: break;
    }
    return s;
}

CB_HD int cb_fits_integer(cb_scalar s, int64_t lo, int64_t hi, int64_t* out) {
    if (!s.is_float) {
        if (s.i < lo || s.i > hi) return 0;
        *out = s.i;
        return 1;
    }
    double d = s.d;
    // NaN fails both comparisons; the bounds are exact doubles (hi + 1 is a power of two or small).
    if (!(d >= (double) lo && d < (double) hi + 1.0)) return 0;
    int64_t v = (int64_t) d;            // truncation toward zero
    if ((double) v != d) return 0;      // not integral
    *out = v;
    return 1;
}

// Stores s as element i of an array of the given dtype. Returns CB_OK or CB_ERR_VALUE_DOES_NOT_FIT.
CB_HD int cb_store(void* base, int dtype, int64_t i, cb_scalar s) {
    unsigned char* p = (unsigned char*) base + i * cb_dtype_size(dtype);
    int64_t v;
    int overflow = 0;
    switch (dtype) {
        case CB_BOOL: if (!cb_fits_integer(s, 0, 1, &v)) return CB_ERR_VALUE_DOES_NOT_FIT; *p = (unsigned char) v; return CB_OK;
        case CB_UINT8: if (!cb_fits_integer(s, 0, 255, &v)) return CB_ERR_VALUE_DOES_NOT_FIT; *p = (unsigned char) v; return CB_OK;
        case CB_INT8: if (!cb_fits_integer(s, -128, 127, &v)) return CB_ERR_VALUE_DOES_NOT_FIT; *p = (unsigned char) (int8_t) v; return CB_OK;
        case CB_INT16: { if (!cb_fits_integer(s, -32768, 32767, &v)) return CB_ERR_VALUE_DOES_NOT_FIT; int16_t w = (int16_t) v; memcpy(p, &w, 2); return CB_OK; }
        case CB_UINT16: { if (!cb_fits_integer(s, 0, 65535, &v)) return CB_ERR_VALUE_DOES_NOT_FIT; uint16_t w = (uint16_t) v; memcpy(p, &w, 2); return CB_OK; }
        case CB_INT32: { if (!cb_fits_integer(s, INT32_MIN, INT32_MAX, &v)) return CB_ERR_VALUE_DOES_NOT_FIT; int32_t w = (int32_t) v; memcpy(p, &w, 4); return CB_OK; }
        case CB_INT64: {
            if (s.is_float) {
                // [-2^63, 2^63): the upper bound is not an int64, so compare in double
                if (!(s.d >= -9223372036854775808.0 && s.d < 9223372036854775808.0)) return CB_ERR_VALUE_DOES_NOT_FIT;
                v = (int64_t) s.d;
                if ((double) v != s.d) return CB_ERR_VALUE_DOES_NOT_FIT;
            } else {
                v = s.i;
            }
            memcpy(p, &v, 8);
            return CB_OK;
        }
        case CB_FLOAT64: {
            double d = s.is_float ? s.d : (double) s.i;
            if (d != d) d = cb_bits_double(0x7ff8000000000000ULL);
            memcpy(p, &d, 8);
            return CB_OK;
        }
        case CB_FLOAT32: {
            float f;
            if (s.is_float) {
                if (s.d != s.d) {
                    f = cb_bits_float(0x7fc00000u);
                } else {
                    f = (float) s.d;
                    uint32_t fb = cb_float_bits(f);
                    int f_inf = (fb & 0x7fffffffu) == 0x7f800000u;
                    int d_inf = (cb_double_bits(s.d) & 0x7fffffffffffffffULL) == 0x7ff0000000000000ULL;
                    if (f_inf && !d_inf) return CB_ERR_VALUE_DOES_NOT_FIT;
                }
            } else {
                f = (float) s.i;    // int64 -> float32 rounds to nearest even, never overflows
            }
            memcpy(p, &f, 4);
            return CB_OK;
        }
        case CB_FLOAT16: case CB_BFLOAT16: {
            double d = s.is_float ? s.d : (double) s.i;
            uint32_t h = dtype == CB_FLOAT16 ? cb_double_to_small_float(d, 5, 10, &overflow)
                                             : cb_double_to_small_float(d, 8, 7, &overflow);
            if (overflow) return CB_ERR_VALUE_DOES_NOT_FIT;
            uint16_t w = (uint16_t) h;
            memcpy(p, &w, 2);
            return CB_OK;
        }
        default:
            return CB_ERR_ARGUMENT;
    }
}
