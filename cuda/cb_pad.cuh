// cb_pad.cuh: gather + truncate + pad ragged (or fixed) samples into [B, L, F], with dtype conversion,
// and in the same pass lengths [B] (int32), attention_mask [B, L] (uint8, 1 = real token) and
// position_ids [B, L] (int32: 0, 1, ... over the real tokens, 0 on padding).
//
// Geometry of output row b, for sample s = indices[b] of n timesteps (Keras pad_sequences, explicit):
//   keep  = min(n, limit)                                  limit = maxlen (the caller passes L when none)
//   n > limit needs a truncation side: PRE keeps the tail (skip = n - limit), POST the head (skip = 0);
//           CB_SIDE_NONE then fails with CB_ERR_TOO_LONG
//   start = pad_side == PRE ? L - keep : 0                 real timesteps land in [start, start + keep)
// Element (b, t, f) is source timestep offsets[s] + skip + (t - start), feature f, when t is real; else
// the pad value. Same-dtype values are bit copies (cb_bit_copy: not bool); others go through cb_convert.cuh.
#pragma once
#include "cb_convert.cuh"

typedef struct {
    const void* values;        // the store's values, src_dtype elements
    int32_t src_dtype;
    const int64_t* offsets;    // N + 1 timestep offsets (ragged), or NULL (fixed: fixed_len per sample)
    int64_t fixed_len;
    int64_t features;          // elements per timestep, >= 1
    const int64_t* indices;    // B sample indices, validated in range by the caller; NULL: row b is sample b
                               // (the compact layout the CUDA backend sends: only the batch's own rows)
    int64_t batch;             // B
    int64_t out_len;           // L
    int64_t limit;             // truncation limit, <= L
    int32_t pad_side;          // CB_SIDE_PRE or CB_SIDE_POST
    int32_t trunc_side;        // CB_SIDE_PRE, CB_SIDE_POST or CB_SIDE_NONE
    int32_t dst_dtype;
    const void* pad_value;     // one element of dst_dtype
    void* out;                 // B * L * F elements of dst_dtype
    int32_t* lengths;          // B, or NULL
    uint8_t* mask;             // B * L, or NULL
    int32_t* positions;        // B * L, or NULL
} cb_pad_args;

typedef struct {
    int64_t first;   // source timestep of output timestep `start`
    int64_t keep;    // real timesteps in the row
    int64_t start;   // output timestep of the first real one
    int32_t status;  // CB_OK or CB_ERR_TOO_LONG
} cb_row_geometry;

CB_HD cb_row_geometry cb_pad_geometry(const cb_pad_args* a, int64_t b) {
    cb_row_geometry g;
    int64_t s = a->indices ? a->indices[b] : b;
    int64_t begin = a->offsets ? a->offsets[s] : s * a->fixed_len;
    int64_t n = a->offsets ? a->offsets[s + 1] - begin : a->fixed_len;
    g.status = CB_OK;
    g.keep = n < a->limit ? n : a->limit;
    int64_t skip = 0;
    if (n > a->limit) {
        if (a->trunc_side == CB_SIDE_NONE) g.status = CB_ERR_TOO_LONG;
        if (a->trunc_side == CB_SIDE_PRE) skip = n - a->limit;
    }
    g.first = begin + skip;
    g.start = a->pad_side == CB_SIDE_PRE ? a->out_len - g.keep : 0;
    return g;
}

// Typed element access. On the device every array is aligned to its element size (cudaMalloc'd buffers,
// element offsets; the compact layout is 8-byte aligned), so a load is one typed instruction; on the host a
// fixed-size memcpy compiles to the same move and also tolerates unaligned stores (mapped files).
template <typename T>
CB_HD T cb_ld(const void* p) {
#ifdef __CUDA_ARCH__
    return *(const T*) p;
#else
    T v;
    memcpy(&v, p, sizeof(T));
    return v;
#endif
}

template <typename T>
CB_HD void cb_st(void* p, T v) {
#ifdef __CUDA_ARCH__
    *(T*) p = v;
#else
    memcpy(p, &v, sizeof(T));
#endif
}

// Row b's output elements (F per timestep, flattened) as three runs, computed once per row so that placing
// element i of the row needs no division: [0, rs) pad, [rs, re) real, element i taken from source element
// src0 + (i - rs), [re, n) pad. out: the row's first byte.
typedef struct {
    int64_t n;
    int64_t rs;
    int64_t re;
    int64_t src0;
    unsigned char* out;
} cb_row_span;

CB_HD cb_row_span cb_pad_span(const cb_pad_args* a, const cb_row_geometry* g, int64_t b) {
    cb_row_span s;
    int64_t F = a->features;
    s.n = a->out_len * F;
    s.rs = g->start * F;
    s.re = (g->start + g->keep) * F;
    s.src0 = g->first * F;
    s.out = (unsigned char*) a->out + b * s.n * cb_dtype_size(a->dst_dtype);
    return s;
}

// Bit copy of the row elements i, i + step, ... (one thread's share; the CPU passes 0 and 1), T of the
// element's size.
template <typename T>
CB_HD void cb_pad_bits_part_t(const cb_pad_args* a, const cb_row_span* s, int64_t i, int64_t step) {
    const T pad = cb_ld<T>(a->pad_value);
    const unsigned char* src = (const unsigned char*) a->values + (s->src0 - s->rs) * (int64_t) sizeof(T);
    for (; i < s->n; i += step) {
        cb_st<T>(s->out + i * (int64_t) sizeof(T),
                 i >= s->rs && i < s->re ? cb_ld<T>(src + i * (int64_t) sizeof(T)) : pad);
    }
}

CB_HD void cb_pad_bits_part(const cb_pad_args* a, const cb_row_span* s, int64_t i, int64_t step) {
    switch (cb_dtype_size(a->dst_dtype)) {
        case 1: cb_pad_bits_part_t<uint8_t>(a, s, i, step); break;
        case 2: cb_pad_bits_part_t<uint16_t>(a, s, i, step); break;
        case 4: cb_pad_bits_part_t<uint32_t>(a, s, i, step); break;
        default: cb_pad_bits_part_t<uint64_t>(a, s, i, step); break;
    }
}

// One pad element of `size` bytes, by a typed store.
CB_HD void cb_put_pad(unsigned char* dst, const void* pad, int size) {
    switch (size) {
        case 1: cb_st<uint8_t>(dst, cb_ld<uint8_t>(pad)); break;
        case 2: cb_st<uint16_t>(dst, cb_ld<uint16_t>(pad)); break;
        case 4: cb_st<uint32_t>(dst, cb_ld<uint32_t>(pad)); break;
        default: cb_st<uint64_t>(dst, cb_ld<uint64_t>(pad)); break;
    }
}

// Converting copy of the row elements i, i + step, ... of row b. Returns -1, or the flat output index of
// the first of them whose value does not fit (and stops there: later ones of this share are larger).
CB_HD int64_t cb_pad_convert_part(const cb_pad_args* a, const cb_row_span* s, int64_t b, int64_t i, int64_t step) {
    int dsize = cb_dtype_size(a->dst_dtype);
    for (; i < s->n; i += step) {
        if (i >= s->rs && i < s->re) {
            if (cb_store(a->out, a->dst_dtype, b * s->n + i, cb_load(a->values, a->src_dtype, s->src0 + (i - s->rs)))
                != CB_OK) {
                return b * s->n + i;
            }
        } else {
            cb_put_pad(s->out + i * dsize, a->pad_value, dsize);
        }
    }
    return -1;
}

// Mask and positions of timesteps t, t + step, ... of row b.
CB_HD void cb_pad_masks_part(const cb_pad_args* a, const cb_row_geometry* g, int64_t b, int64_t t, int64_t step) {
    const int64_t L = a->out_len, start = g->start, end = g->start + g->keep;
    uint8_t* m = a->mask ? a->mask + b * L : 0;
    int32_t* p = a->positions ? a->positions + b * L : 0;
    for (; t < L; t += step) {
        int real = t >= start && t < end;
        if (m) m[t] = (uint8_t) real;
        if (p) p[t] = real ? (int32_t) (t - start) : 0;
    }
}

// Same-dtype rows in 16-byte chunks c, c + step, ... of the row (a bit copy, cb_bit_copy; the row's bytes a
// multiple of 16 and the output 16-byte aligned, which the caller checks): each chunk is one aligned
// 16-byte store; an all-real chunk whose source is 16-byte aligned is one 16-byte load, other chunks are
// assembled from typed element loads in registers.
template <typename T>
CB_HD void cb_pad_wide_part_t(const cb_pad_args* a, const cb_row_span* s, int64_t c, int64_t step) {
    enum { N = 16 / sizeof(T) };
    union chunk { cb_u128 v; T e[N]; };
    const T pad = cb_ld<T>(a->pad_value);
    chunk padded;
CB_UNROLL
    for (int k = 0; k < N; k++) padded.e[k] = pad;
    const unsigned char* src = (const unsigned char*) a->values + (s->src0 - s->rs) * (int64_t) sizeof(T);
    const int64_t chunks = s->n / N;
    for (; c < chunks; c += step) {
        const int64_t e0 = c * N;
        chunk x;
        if (e0 + N <= s->rs || e0 >= s->re) {
            x = padded;
        } else if (e0 >= s->rs && e0 + N <= s->re && ((uintptr_t) (src + e0 * (int64_t) sizeof(T)) & 15) == 0) {
            x.v = cb_ld<cb_u128>(src + e0 * (int64_t) sizeof(T));
        } else {
CB_UNROLL
            for (int k = 0; k < N; k++) {
                const int64_t i = e0 + k;
                x.e[k] = i >= s->rs && i < s->re ? cb_ld<T>(src + i * (int64_t) sizeof(T)) : pad;
            }
        }
        cb_st<cb_u128>(s->out + c * 16, x.v);
    }
}

CB_HD void cb_pad_wide_part(const cb_pad_args* a, const cb_row_span* s, int64_t c, int64_t step) {
    switch (cb_dtype_size(a->dst_dtype)) {
        case 1: cb_pad_wide_part_t<uint8_t>(a, s, c, step); break;
        case 2: cb_pad_wide_part_t<uint16_t>(a, s, c, step); break;
        case 4: cb_pad_wide_part_t<uint32_t>(a, s, c, step); break;
        default: cb_pad_wide_part_t<uint64_t>(a, s, c, step); break;
    }
}

// Elements [from, to) of a row (its first byte: row) set to the pad value: one memset when the value's bytes
// are all zero or it is one byte wide, else a typed store per element (cb_put_pad).
CB_HD void cb_fill_pad(unsigned char* row, int64_t from, int64_t to, const void* pad, int dsize) {
    if (to <= from) return;
    int zero = 1;
    for (int i = 0; i < dsize; i++) zero &= ((const unsigned char*) pad)[i] == 0;
    if (zero || dsize == 1) {
        memset(row + from * dsize, ((const unsigned char*) pad)[0], (size_t) ((to - from) * dsize));
    } else {
        for (int64_t e = from; e < to; e++) cb_put_pad(row + e * dsize, pad, dsize);
    }
}

// lengths[b]: written once per row, also when L = 0 and the row has no timestep to hang it on.
CB_HD void cb_pad_length(const cb_pad_args* a, const cb_row_geometry* g, int64_t b) {
    if (a->lengths) a->lengths[b] = (int32_t) g->keep;
}

// The element-by-element converting copy: what every conversion is defined by.
CB_HD int64_t cb_convert_run(const cb_pad_args* a, int64_t src, int64_t out, int64_t count) {
    for (int64_t e = 0; e < count; e++) {
        if (cb_store(a->out, a->dst_dtype, out + e, cb_load(a->values, a->src_dtype, src + e)) != CB_OK) {
            return out + e;
        }
    }
    return -1;
}

// Row b on the CPU: bulk copies for same-dtype data, element conversion otherwise. On a value that does
// not fit, *bad is set to the flat index of the first such output element of the row.
// convert(a, src_elem, out_elem, count): the converting copy of `count` consecutive elements; returns -1 or
// the flat output index of the first that does not fit. The device has none (the kernels convert per
// element); the CPU passes cb_convert_run or a faster loop writing the same bytes (native/cubatch.cpp).
template <typename Convert>
CB_HD int cb_pad_row_with(const cb_pad_args* a, int64_t b, int64_t* bad, Convert convert) {
    cb_row_geometry g = cb_pad_geometry(a, b);
    if (g.status != CB_OK) {
        *bad = b;
        return g.status;
    }
    int dsize = cb_dtype_size(a->dst_dtype);
    int64_t F = a->features;
    unsigned char* row = (unsigned char*) a->out + b * a->out_len * F * dsize;
    // the row in address order (padding before, the real timesteps, padding after), as a plain copy and fill
    // would write it: the tail first and the head after cost 3 % at batch 64 and 256 (cubatch.cpp's ceiling)
    cb_fill_pad(row, 0, g.start * F, a->pad_value, dsize);
    if (cb_bit_copy(a->src_dtype, a->dst_dtype)) {
        memcpy(row + g.start * F * dsize, (const unsigned char*) a->values + g.first * F * dsize,
               (size_t) (g.keep * F * dsize));
    } else {
        int64_t o = convert(a, g.first * F, (b * a->out_len + g.start) * F, g.keep * F);
        if (o >= 0) {
            *bad = o;
            return CB_ERR_VALUE_DOES_NOT_FIT;
        }
    }
    cb_fill_pad(row, (g.start + g.keep) * F, a->out_len * F, a->pad_value, dsize);
    // mask and positions as cb_pad_masks_part defines them, written as runs: through local pointers the
    // compiler need not reload the arguments after every byte store (a uint8_t store may alias anything)
    const int64_t L = a->out_len, start = g.start, end = g.start + g.keep;
    if (a->mask) {   // padding sits on one side only: at most two runs, and no call for an empty one
        uint8_t* m = a->mask + b * L;
        if (start > 0) memset(m, 0, (size_t) start);
        if (end > start) memset(m + start, 1, (size_t) (end - start));
        if (L > end) memset(m + end, 0, (size_t) (L - end));
    }
    if (a->positions) {
        int32_t* p = a->positions + b * L;
        for (int64_t t = 0; t < L; t++) p[t] = t >= start && t < end ? (int32_t) (t - start) : 0;
    }
    cb_pad_length(a, &g, b);
    return CB_OK;
}

struct cb_convert_elementwise {
    CB_HD_MEMBER int64_t operator()(const cb_pad_args* a, int64_t src, int64_t out, int64_t count) const {
        return cb_convert_run(a, src, out, count);
    }
};

CB_HD int cb_pad_row(const cb_pad_args* a, int64_t b, int64_t* bad) {
    return cb_pad_row_with(a, b, bad, cb_convert_elementwise());
}
