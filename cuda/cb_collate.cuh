// cb_collate.cuh: stack (collate) fixed-shape samples into [B, ...]: output row b is sample indices[b]
// of row_elems elements, converted to the output dtype when it differs, or is bool (cb_convert.cuh).
#pragma once
#include "cb_pad.cuh"   // cb_ld, cb_st

typedef struct {
    const void* values;        // N samples of row_elems src_dtype elements each
    int32_t src_dtype;
    int64_t row_elems;
    const int64_t* indices;    // B sample indices, validated by the caller; NULL: row b is sample b
    int64_t batch;
    int32_t dst_dtype;
    void* out;                 // B * row_elems dst_dtype elements
} cb_stack_args;

// Row b's elements i, i + step, ... (one thread's share; the CPU passes 0 and 1) as a bit copy, T of the
// element's size.
template <typename T>
CB_HD void cb_stack_bits_part_t(const cb_stack_args* a, int64_t b, int64_t i, int64_t step) {
    const int64_t n = a->row_elems;
    const unsigned char* src = (const unsigned char*) a->values + (a->indices ? a->indices[b] : b) * n * (int64_t) sizeof(T);
    unsigned char* dst = (unsigned char*) a->out + b * n * (int64_t) sizeof(T);
    for (; i < n; i += step) cb_st<T>(dst + i * (int64_t) sizeof(T), cb_ld<T>(src + i * (int64_t) sizeof(T)));
}

CB_HD void cb_stack_bits_part(const cb_stack_args* a, int64_t b, int64_t i, int64_t step) {
    switch (cb_dtype_size(a->dst_dtype)) {
        case 1: cb_stack_bits_part_t<uint8_t>(a, b, i, step); break;
        case 2: cb_stack_bits_part_t<uint16_t>(a, b, i, step); break;
        case 4: cb_stack_bits_part_t<uint32_t>(a, b, i, step); break;
        default: cb_stack_bits_part_t<uint64_t>(a, b, i, step); break;
    }
}

// Row b's elements i, i + step, ... converted; -1, or the flat output index of the first that does not fit.
CB_HD int64_t cb_stack_convert_part(const cb_stack_args* a, int64_t b, int64_t i, int64_t step) {
    const int64_t n = a->row_elems;
    const int64_t src = (a->indices ? a->indices[b] : b) * n;
    for (; i < n; i += step) {
        if (cb_store(a->out, a->dst_dtype, b * n + i, cb_load(a->values, a->src_dtype, src + i)) != CB_OK) {
            return b * n + i;
        }
    }
    return -1;
}

// Row b on the CPU; *bad gets the first failing output element.
CB_HD int cb_stack_row(const cb_stack_args* a, int64_t b, int64_t* bad) {
    int size = cb_dtype_size(a->dst_dtype);
    if (cb_bit_copy(a->src_dtype, a->dst_dtype)) {
        memcpy((unsigned char*) a->out + b * a->row_elems * size,
               (const unsigned char*) a->values + (a->indices ? a->indices[b] : b) * a->row_elems * size, (size_t) (a->row_elems * size));
        return CB_OK;
    }
    int64_t e = cb_stack_convert_part(a, b, 0, 1);
    if (e >= 0) {
        *bad = e;
        return CB_ERR_VALUE_DOES_NOT_FIT;
    }
    return CB_OK;
}
