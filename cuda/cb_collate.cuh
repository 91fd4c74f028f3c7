// cb_collate.cuh: stack (collate) fixed-shape samples into [B, ...]: output row b is sample indices[b]
// of row_elems elements, converted to the output dtype when it differs, or is bool (cb_convert.cuh).
#pragma once
#include "cb_convert.cuh"

typedef struct {
    const void* values;        // N samples of row_elems src_dtype elements each
    int32_t src_dtype;
    int64_t row_elems;
    const int64_t* indices;    // B sample indices, validated by the caller; NULL: row b is sample b
    int64_t batch;
    int32_t dst_dtype;
    void* out;                 // B * row_elems dst_dtype elements
} cb_stack_args;

// Output element e of the flattened [B, row_elems] output.
CB_HD int cb_stack_element(const cb_stack_args* a, int64_t e) {
    int64_t b = e / a->row_elems;
    int64_t src = (a->indices ? a->indices[b] : b) * a->row_elems + e % a->row_elems;
    if (cb_bit_copy(a->src_dtype, a->dst_dtype)) {
        int size = cb_dtype_size(a->dst_dtype);
        memcpy((unsigned char*) a->out + e * size, (const unsigned char*) a->values + src * size, size);
        return CB_OK;
    }
    return cb_store(a->out, a->dst_dtype, e, cb_load(a->values, a->src_dtype, src));
}

// Row b on the CPU; *bad gets the first failing output element.
CB_HD int cb_stack_row(const cb_stack_args* a, int64_t b, int64_t* bad) {
    int size = cb_dtype_size(a->dst_dtype);
    if (cb_bit_copy(a->src_dtype, a->dst_dtype)) {
        memcpy((unsigned char*) a->out + b * a->row_elems * size,
               (const unsigned char*) a->values + (a->indices ? a->indices[b] : b) * a->row_elems * size, (size_t) (a->row_elems * size));
        return CB_OK;
    }
    for (int64_t i = 0; i < a->row_elems; i++) {
        int64_t e = b * a->row_elems + i;
        if (cb_stack_element(a, e) != CB_OK) {
            *bad = e;
            return CB_ERR_VALUE_DOES_NOT_FIT;
        }
    }
    return CB_OK;
}
