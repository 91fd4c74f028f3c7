// cb_pack.cuh: sequence packing. A batch's sequences, placed first-fit by the host (PackLayout in the Java
// API: no sequence crosses a row, padding only at row ends), are written into rows of maxlen timesteps:
// data [rows, maxlen, F], attention mask [rows, maxlen] (1 = real), position ids [rows, maxlen] restarting
// at 0 for every sequence (0 on padding), and per sequence, in packed order (row by row, then batch order):
// lengths [S] (int32), cu_seqlens [S + 1] (int32, cumulative real timesteps: FlashAttention's varlen
// convention) and max_seqlen [1]. Same-dtype values other than bool are bit copies; others go through
// cb_convert.cuh.
//
// Sequence k (packed order) takes output timesteps [start[k], start[k] + keep[k]) from source timesteps
// [first[k], first[k] + keep[k]); start[] ascends. Output timestep t is real exactly when the last k with
// start[k] <= t has t < start[k] + keep[k].
#pragma once
#include "cb_convert.cuh"

typedef struct {
    const void* values;        // source values, src_dtype elements, F per timestep
    int32_t src_dtype;
    int64_t features;          // F >= 1
    const int64_t* first;      // S: source timestep of sequence k's first kept timestep
    const int64_t* keep;       // S: kept timesteps of sequence k (after truncation)
    const int64_t* start;      // S: output timestep (row * maxlen + column) where sequence k starts; ascending
    int64_t seqs;              // S
    int64_t rows;
    int64_t maxlen;
    int32_t dst_dtype;
    const void* pad_value;     // one element of dst_dtype
    void* out;                 // rows * maxlen * F elements of dst_dtype
    uint8_t* mask;             // rows * maxlen
    int32_t* positions;        // rows * maxlen, or NULL
    int32_t* lengths;          // S
    int32_t* cu_seqlens;       // S + 1
    int32_t* max_seqlen;       // 1
} cb_pack_args;

// The sequence covering output timestep t (packed order), or -1 when t is padding.
CB_HD int64_t cb_pack_seq_at(const cb_pack_args* a, int64_t t) {
    int64_t lo = 0, hi = a->seqs;   // the first k with start[k] > t
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (a->start[mid] <= t) lo = mid + 1; else hi = mid;
    }
    int64_t k = lo - 1;
    return k >= 0 && t < a->start[k] + a->keep[k] ? k : -1;
}

// Output element e of the flattened [rows, maxlen, F]: CB_OK or CB_ERR_VALUE_DOES_NOT_FIT.
CB_HD int cb_pack_element(const cb_pack_args* a, int64_t e) {
    int dsize = cb_dtype_size(a->dst_dtype);
    int64_t t = e / a->features;
    int64_t f = e % a->features;
    int64_t k = cb_pack_seq_at(a, t);
    unsigned char* dst = (unsigned char*) a->out + e * dsize;
    if (k < 0) {
        memcpy(dst, a->pad_value, dsize);
        return CB_OK;
    }
    int64_t src = (a->first[k] + (t - a->start[k])) * a->features + f;
    if (cb_bit_copy(a->src_dtype, a->dst_dtype)) {
        memcpy(dst, (const unsigned char*) a->values + src * dsize, dsize);
        return CB_OK;
    }
    return cb_store(a->out, a->dst_dtype, e, cb_load(a->values, a->src_dtype, src));
}

// Mask and position of output timestep t.
CB_HD void cb_pack_masks(const cb_pack_args* a, int64_t t) {
    int64_t k = cb_pack_seq_at(a, t);
    a->mask[t] = (uint8_t) (k >= 0);
    if (a->positions) a->positions[t] = k >= 0 ? (int32_t) (t - a->start[k]) : 0;
}

// lengths, cu_seqlens and max_seqlen: one pass over the S sequences (one thread, or the CPU).
CB_HD void cb_pack_sequences(const cb_pack_args* a) {
    int32_t total = 0, longest = 0;
    a->cu_seqlens[0] = 0;
    for (int64_t k = 0; k < a->seqs; k++) {
        int32_t n = (int32_t) a->keep[k];
        a->lengths[k] = n;
        total += n;
        a->cu_seqlens[k + 1] = total;
        if (n > longest) longest = n;
    }
    a->max_seqlen[0] = longest;
}
