// cb_pack.cuh: sequence packing. A batch's sequences, placed first-fit by the host (PackLayout in the Java
// API: no sequence crosses a row, padding only at row ends), are written into rows of maxlen timesteps:
// data [rows, maxlen, F], attention mask [rows, maxlen] (1 = real), position ids [rows, maxlen] restarting
// at 0 for every sequence (0 on padding), and per sequence, in packed order (row by row, then batch order):
// lengths [S] (int32), cu_seqlens [S + 1] (int32, cumulative real timesteps: FlashAttention's varlen
// convention) and max_seqlen [1]. Same-dtype values other than bool are bit copies; others go through
// cb_convert.cuh.
//
// Sequence k (packed order) takes output timesteps [start[k], start[k] + keep[k]) from source timesteps
// [first[k], first[k] + keep[k]); start[] ascends and sequences do not overlap (PackLayout). Every other
// output timestep is padding: the gaps between sequences, which cb_pack_gap names.
#pragma once
#include "cb_pad.cuh"   // cb_ld, cb_st, cb_put_pad

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

// Sequence k's elements i, i + step, ... of its keep[k] * F (one thread's share; the CPU passes 0 and 1):
// output element start[k] * F + i from source element first[k] * F + i, a typed bit copy or a conversion.
// Returns -1, or the flat output index of the first of them whose value does not fit (and stops there).
template <typename T>
CB_HD void cb_pack_bits_part_t(const cb_pack_args* a, int64_t k, int64_t i, int64_t step) {
    const int64_t n = a->keep[k] * a->features;
    const unsigned char* src = (const unsigned char*) a->values + a->first[k] * a->features * (int64_t) sizeof(T);
    unsigned char* dst = (unsigned char*) a->out + a->start[k] * a->features * (int64_t) sizeof(T);
    for (; i < n; i += step) cb_st<T>(dst + i * (int64_t) sizeof(T), cb_ld<T>(src + i * (int64_t) sizeof(T)));
}

CB_HD int64_t cb_pack_seq_part(const cb_pack_args* a, int64_t k, int64_t i, int64_t step) {
    if (cb_bit_copy(a->src_dtype, a->dst_dtype)) {
        switch (cb_dtype_size(a->dst_dtype)) {
            case 1: cb_pack_bits_part_t<uint8_t>(a, k, i, step); break;
            case 2: cb_pack_bits_part_t<uint16_t>(a, k, i, step); break;
            case 4: cb_pack_bits_part_t<uint32_t>(a, k, i, step); break;
            default: cb_pack_bits_part_t<uint64_t>(a, k, i, step); break;
        }
        return -1;
    }
    const int64_t n = a->keep[k] * a->features;
    const int64_t src = a->first[k] * a->features, dst = a->start[k] * a->features;
    for (; i < n; i += step) {
        if (cb_store(a->out, a->dst_dtype, dst + i, cb_load(a->values, a->src_dtype, src + i)) != CB_OK) {
            return dst + i;
        }
    }
    return -1;
}

// Mask 1 and positions 0, 1, ... over sequence k's timesteps t, t + step, ...
CB_HD void cb_pack_seq_masks_part(const cb_pack_args* a, int64_t k, int64_t t, int64_t step) {
    const int64_t n = a->keep[k], at = a->start[k];
    for (; t < n; t += step) {
        a->mask[at + t] = 1;
        if (a->positions) a->positions[at + t] = (int32_t) t;
    }
}

// Gap g in [0, S]: the padding cells before sequence g (after sequence g - 1; g = S: up to the end of the
// last row), [gap_from, gap_to). Its elements i, i + step, ... get the pad value; its timesteps mask and
// position 0. Gaps and sequences together cover every cell once (start[] ascends, sequences do not overlap).
CB_HD void cb_pack_gap(const cb_pack_args* a, int64_t g, int64_t* from, int64_t* to) {
    *from = g == 0 ? 0 : a->start[g - 1] + a->keep[g - 1];
    *to = g == a->seqs ? a->rows * a->maxlen : a->start[g];
    if (*to < *from) *to = *from;
}

CB_HD void cb_pack_gap_part(const cb_pack_args* a, int64_t g, int64_t i, int64_t step) {
    int64_t from, to;
    cb_pack_gap(a, g, &from, &to);
    const int dsize = cb_dtype_size(a->dst_dtype);
    const int64_t F = a->features;
    unsigned char* dst = (unsigned char*) a->out + from * F * dsize;
    for (int64_t e = i; e < (to - from) * F; e += step) cb_put_pad(dst + e * dsize, a->pad_value, dsize);
    for (int64_t t = from + i; t < to; t += step) {
        a->mask[t] = 0;
        if (a->positions) a->positions[t] = 0;
    }
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
