// cubatch.cpp: libcubatch, the CPU implementation of the cuda/*.cuh element functions, multithreaded over
// the rows of the batch. Build: make -C native (the Maven build does).
#include "cubatch.h"

#include <algorithm>
#include <cstddef>
#include <thread>
#include <vector>

#include "cb_collate.cuh"
#include "cb_pad.cuh"
#include "cb_pack.cuh"

namespace {

// Runs row(b, &bad) for b in [0, batch) on up to `threads` threads. Returns the status of the lowest
// failing row and, in *error_out, its bad index, so the result does not depend on the thread count.
// Below this much output per thread, starting a thread costs more than it saves.
constexpr int64_t kBytesPerThread = 4 << 20;

template <typename Row>
int32_t for_rows(int64_t batch, int64_t out_bytes, int32_t threads, int64_t* error_out, Row row) {
    int64_t workers = std::max<int64_t>(1, std::min<int64_t>({(int64_t) threads, batch, 1 + out_bytes / kBytesPerThread}));
    std::vector<int64_t> fail_row(workers, -1), fail_at(workers, 0);
    std::vector<int32_t> fail_status(workers, CB_OK);
    auto work = [&](int64_t w) {
        int64_t from = batch * w / workers, to = batch * (w + 1) / workers;
        for (int64_t b = from; b < to; b++) {
            int64_t bad = 0;
            int32_t s = row(b, &bad);
            if (s != CB_OK) {
                fail_row[w] = b;
                fail_at[w] = bad;
                fail_status[w] = s;
                return;
            }
        }
    };
    if (workers == 1) {
        work(0);
    } else {
        std::vector<std::thread> pool;
        pool.reserve(workers - 1);
        for (int64_t w = 1; w < workers; w++) pool.emplace_back(work, w);
        work(0);
        for (auto& t : pool) t.join();
    }
    for (int64_t w = 0; w < workers; w++) {   // workers own ascending row ranges: the first failure wins
        if (fail_status[w] != CB_OK) {
            *error_out = fail_at[w];
            return fail_status[w];
        }
    }
    return CB_OK;
}

bool valid_dtype(int32_t d) { return d >= 0 && d < CB_DTYPE_COUNT; }

}  // namespace

extern "C" int32_t cb_abi_version(void) { return CB_ABI_VERSION; }

extern "C" int32_t cb_pad(const void* values, int32_t src_dtype, const int64_t* offsets, int64_t fixed_len,
                          int64_t features, const int64_t* indices, int64_t batch, int64_t out_len, int64_t limit,
                          int32_t pad_side, int32_t trunc_side, int32_t dst_dtype, const void* pad_value, void* out,
                          int32_t* lengths, uint8_t* mask, int32_t* positions, int32_t threads, int64_t* error_out) {
    if (!valid_dtype(src_dtype) || !valid_dtype(dst_dtype) || features < 1 || batch < 0 || out_len < 0 ||
        limit < 0 || limit > out_len || (pad_side != CB_SIDE_PRE && pad_side != CB_SIDE_POST) ||
        trunc_side < CB_SIDE_PRE || trunc_side > CB_SIDE_NONE || !error_out || !pad_value || (batch > 0 && !out)) {
        return CB_ERR_ARGUMENT;
    }
    cb_pad_args a = {values, src_dtype, offsets, fixed_len, features, indices, batch, out_len, limit,
                     pad_side, trunc_side, dst_dtype, pad_value, out, lengths, mask, positions};
    int64_t bytes = batch * out_len * features * cb_dtype_size(dst_dtype);
    return for_rows(batch, bytes, threads, error_out, [&](int64_t b, int64_t* bad) { return cb_pad_row(&a, b, bad); });
}

extern "C" int32_t cb_stack(const void* values, int32_t src_dtype, int64_t row_elems, const int64_t* indices,
                            int64_t batch, int32_t dst_dtype, void* out, int32_t threads, int64_t* error_out) {
    if (!valid_dtype(src_dtype) || !valid_dtype(dst_dtype) || row_elems < 0 || batch < 0 || !error_out) {
        return CB_ERR_ARGUMENT;
    }
    cb_stack_args a = {values, src_dtype, row_elems, indices, batch, dst_dtype, out};
    int64_t bytes = batch * row_elems * cb_dtype_size(dst_dtype);
    return for_rows(batch, bytes, threads, error_out, [&](int64_t b, int64_t* bad) { return cb_stack_row(&a, b, bad); });
}

extern "C" int32_t cb_pack(const void* values, int32_t src_dtype, int64_t features, const int64_t* first,
                           const int64_t* keep, const int64_t* start, int64_t seqs, int64_t rows, int64_t maxlen,
                           int32_t dst_dtype, const void* pad_value, void* out, uint8_t* mask, int32_t* positions,
                           int32_t* lengths, int32_t* cu_seqlens, int32_t* max_seqlen, int64_t* error_out) {
    if (!valid_dtype(src_dtype) || !valid_dtype(dst_dtype) || features < 1 || seqs < 0 || rows < 0 || maxlen < 0
        || !error_out || !lengths || !cu_seqlens || !max_seqlen || !mask) {
        return CB_ERR_ARGUMENT;
    }
    cb_pack_args a = {values, src_dtype, features, first, keep, start, seqs, rows, maxlen, dst_dtype, pad_value, out,
                      mask, positions, lengths, cu_seqlens, max_seqlen};
    cb_pack_sequences(&a);
    // the kernel's sequence and gap functions, in packed order: the first failure is the lowest element
    for (int64_t k = 0; k <= seqs; k++) {
        cb_pack_gap_part(&a, k, 0, 1);
        if (k == seqs) break;
        cb_pack_seq_masks_part(&a, k, 0, 1);
        int64_t bad = cb_pack_seq_part(&a, k, 0, 1);
        if (bad >= 0) {
            *error_out = bad;
            return CB_ERR_VALUE_DOES_NOT_FIT;
        }
    }
    return CB_OK;
}

#define CB_FIELD(T, f) (int64_t) offsetof(T, f)
extern "C" int32_t cb_struct_layout(int32_t which, int64_t* out, int32_t capacity) {
    std::vector<int64_t> v;
    if (which == 0) {
        v = {(int64_t) sizeof(cb_pad_args), CB_FIELD(cb_pad_args, values), CB_FIELD(cb_pad_args, src_dtype),
             CB_FIELD(cb_pad_args, offsets), CB_FIELD(cb_pad_args, fixed_len), CB_FIELD(cb_pad_args, features),
             CB_FIELD(cb_pad_args, indices), CB_FIELD(cb_pad_args, batch), CB_FIELD(cb_pad_args, out_len),
             CB_FIELD(cb_pad_args, limit), CB_FIELD(cb_pad_args, pad_side), CB_FIELD(cb_pad_args, trunc_side),
             CB_FIELD(cb_pad_args, dst_dtype), CB_FIELD(cb_pad_args, pad_value), CB_FIELD(cb_pad_args, out),
             CB_FIELD(cb_pad_args, lengths), CB_FIELD(cb_pad_args, mask), CB_FIELD(cb_pad_args, positions)};
    } else if (which == 1) {
        v = {(int64_t) sizeof(cb_stack_args), CB_FIELD(cb_stack_args, values), CB_FIELD(cb_stack_args, src_dtype),
             CB_FIELD(cb_stack_args, row_elems), CB_FIELD(cb_stack_args, indices), CB_FIELD(cb_stack_args, batch),
             CB_FIELD(cb_stack_args, dst_dtype), CB_FIELD(cb_stack_args, out)};
    } else if (which == 2) {
        v = {(int64_t) sizeof(cb_pack_args), CB_FIELD(cb_pack_args, values), CB_FIELD(cb_pack_args, src_dtype),
             CB_FIELD(cb_pack_args, features), CB_FIELD(cb_pack_args, first), CB_FIELD(cb_pack_args, keep),
             CB_FIELD(cb_pack_args, start), CB_FIELD(cb_pack_args, seqs), CB_FIELD(cb_pack_args, rows),
             CB_FIELD(cb_pack_args, maxlen), CB_FIELD(cb_pack_args, dst_dtype), CB_FIELD(cb_pack_args, pad_value),
             CB_FIELD(cb_pack_args, out), CB_FIELD(cb_pack_args, mask), CB_FIELD(cb_pack_args, positions),
             CB_FIELD(cb_pack_args, lengths), CB_FIELD(cb_pack_args, cu_seqlens), CB_FIELD(cb_pack_args, max_seqlen)};
    } else {
        return -1;
    }
    if (!out || capacity < (int32_t) v.size()) return -1;
    std::copy(v.begin(), v.end(), out);
    return (int32_t) v.size();
}

extern "C" void cb_copy(void* dst, const void* src, int64_t bytes) {
    if (bytes > 0) memcpy(dst, src, (size_t) bytes);
}
