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

// Output element (b, t, f): returns CB_OK or CB_ERR_VALUE_DOES_NOT_FIT. The device kernel calls this
// for every element; the CPU twin below does whole rows with the same geometry and conversion.
CB_HD int cb_pad_element(const cb_pad_args* a, const cb_row_geometry* g, int64_t b, int64_t t, int64_t f) {
    int dsize = cb_dtype_size(a->dst_dtype);
    int64_t o = (b * a->out_len + t) * a->features + f;
    unsigned char* dst = (unsigned char*) a->out + o * dsize;
    if (t < g->start || t >= g->start + g->keep) {
        memcpy(dst, a->pad_value, dsize);
        return CB_OK;
    }
    int64_t src = (g->first + (t - g->start)) * a->features + f;
    if (cb_bit_copy(a->src_dtype, a->dst_dtype)) {
        memcpy(dst, (const unsigned char*) a->values + src * dsize, dsize);
        return CB_OK;
    }
    return cb_store(a->out, a->dst_dtype, o, cb_load(a->values, a->src_dtype, src));
}

// mask and positions for timestep t of row b.
CB_HD void cb_pad_masks(const cb_pad_args* a, const cb_row_geometry* g, int64_t b, int64_t t) {
    int real = t >= g->start && t < g->start + g->keep;
    if (a->mask) a->mask[b * a->out_len + t] = (uint8_t) real;
    if (a->positions) a->positions[b * a->out_len + t] = real ? (int32_t) (t - g->start) : 0;
}

// Same-dtype rows, 16 bytes at a time: bytes [at, at + 16) of row b's data (at % 16 == 0), each byte the
// pad value's or the source's, assembled so the kernel can write them with one aligned 16-byte store.
// Only for cb_bit_copy(src_dtype, dst_dtype); the caller checks that, that the row's bytes are a multiple
// of 16 and the output 16-byte aligned. Bytes past the row end are left as they are.
CB_HD void cb_pad_chunk16(const cb_pad_args* a, const cb_row_geometry* g, int64_t at, unsigned char out16[16]) {
    int dsize = cb_dtype_size(a->dst_dtype);
    int64_t row_bytes = a->out_len * a->features * dsize;
    const unsigned char* pad = (const unsigned char*) a->pad_value;
    const unsigned char* src = (const unsigned char*) a->values;
    for (int k = 0; k < 16 && at + k < row_bytes; k++) {
        int64_t e = (at + k) / dsize;
        int within = (int) ((at + k) % dsize);
        int64_t t = e / a->features;
        int64_t f = e % a->features;
        out16[k] = t < g->start || t >= g->start + g->keep
                ? pad[within]
                : src[((g->first + (t - g->start)) * a->features + f) * dsize + within];
    }
}

// lengths[b]: written once per row, also when L = 0 and the row has no timestep to hang it on.
CB_HD void cb_pad_length(const cb_pad_args* a, const cb_row_geometry* g, int64_t b) {
    if (a->lengths) a->lengths[b] = (int32_t) g->keep;
}

// Row b on the CPU: bulk copies for same-dtype data, element conversion otherwise. On a value that does
// not fit, *bad is set to the flat index of the first such output element of the row.
CB_HD int cb_pad_row(const cb_pad_args* a, int64_t b, int64_t* bad) {
    cb_row_geometry g = cb_pad_geometry(a, b);
    if (g.status != CB_OK) {
        *bad = b;
        return g.status;
    }
    int dsize = cb_dtype_size(a->dst_dtype);
    int64_t F = a->features;
    unsigned char* row = (unsigned char*) a->out + b * a->out_len * F * dsize;
    // padding before and after the real timesteps
    int64_t pads[2][2] = {{0, g.start}, {g.start + g.keep, a->out_len}};
    for (int k = 0; k < 2; k++) {
        int64_t from = pads[k][0] * F, to = pads[k][1] * F;
        if (to <= from) continue;
        int zero = 1;
        for (int i = 0; i < dsize; i++) zero &= ((const unsigned char*) a->pad_value)[i] == 0;
        if (zero || dsize == 1) {
            memset(row + from * dsize, ((const unsigned char*) a->pad_value)[0], (size_t) ((to - from) * dsize));
        } else {
            for (int64_t e = from; e < to; e++) memcpy(row + e * dsize, a->pad_value, dsize);
        }
    }
    if (cb_bit_copy(a->src_dtype, a->dst_dtype)) {
        memcpy(row + g.start * F * dsize, (const unsigned char*) a->values + g.first * F * dsize,
               (size_t) (g.keep * F * dsize));
    } else {
        for (int64_t e = 0; e < g.keep * F; e++) {
            int64_t o = (b * a->out_len + g.start) * F + e;
            if (cb_store(a->out, a->dst_dtype, o, cb_load(a->values, a->src_dtype, g.first * F + e)) != CB_OK) {
                *bad = o;
                return CB_ERR_VALUE_DOES_NOT_FIT;
            }
        }
    }
    // mask and positions as cb_pad_masks defines them, written as runs: through local pointers the
    // compiler need not reload the arguments after every byte store (a uint8_t store may alias anything)
    const int64_t L = a->out_len, start = g.start, end = g.start + g.keep;
    if (a->mask) {
        uint8_t* m = a->mask + b * L;
        memset(m, 0, (size_t) start);
        memset(m + start, 1, (size_t) (end - start));
        memset(m + end, 0, (size_t) (L - end));
    }
    if (a->positions) {
        int32_t* p = a->positions + b * L;
        for (int64_t t = 0; t < L; t++) p[t] = t >= start && t < end ? (int32_t) (t - start) : 0;
    }
    cb_pad_length(a, &g, b);
    return CB_OK;
}
