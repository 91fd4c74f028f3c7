/* cubatch.h: the C ABI of libcubatch, the CPU twin of the CUDA kernels, called from Java through
 * java.lang.foreign (io.cubatch.collate.internal.NativeLibrary). Plain C types only, no CUDA.
 * Every argument is validated by the Java caller (indices in range, sizes consistent, buffers large
 * enough); the library never allocates what it returns, never exits, and reports through status codes:
 * 0 ok, 1 a value does not fit the output dtype, 2 a sequence is longer than maxlen without truncation,
 * 3 an argument that should have been rejected earlier. */
#ifndef CUBATCH_H
#define CUBATCH_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped when a signature below changes; Java refuses a library with another version. */
#define CB_ABI_VERSION 3
int32_t cb_abi_version(void);

/* Gather + truncate + pad (cuda/cb_pad.cuh), rows split over `threads` threads. `offsets` is NULL for a
 * fixed-shape store (fixed_len timesteps per sample). `indices` NULL: row b is sample b (ABI 2). `lengths`, `mask`, `positions` may be NULL.
 * *error_out: on status 1 the flat index of the first output element whose value does not fit, on
 * status 2 the first batch row that is too long. */
int32_t cb_pad(const void* values, int32_t src_dtype, const int64_t* offsets, int64_t fixed_len, int64_t features,
               const int64_t* indices, int64_t batch, int64_t out_len, int64_t limit, int32_t pad_side,
               int32_t trunc_side, int32_t dst_dtype, const void* pad_value, void* out, int32_t* lengths,
               uint8_t* mask, int32_t* positions, int32_t threads, int64_t* error_out);

/* Stack fixed-shape samples (cuda/cb_collate.cuh); `indices` NULL: row b is sample b. *error_out as for cb_pad, status 1. */
int32_t cb_stack(const void* values, int32_t src_dtype, int64_t row_elems, const int64_t* indices, int64_t batch,
                 int32_t dst_dtype, void* out, int32_t threads, int64_t* error_out);

/* Pack sequences (cuda/cb_pack.cuh, the CPU twin of cb_pack_kernel): first/keep/start per sequence in packed
 * order as PackLayout computes them. Returns 0, or 1 with *error_out = the first output element whose value
 * does not fit, or 3 for an argument the Java side should have rejected. */
int32_t cb_pack(const void* values, int32_t src_dtype, int64_t features, const int64_t* first, const int64_t* keep,
                const int64_t* start, int64_t seqs, int64_t rows, int64_t maxlen, int32_t dst_dtype,
                const void* pad_value, void* out, uint8_t* mask, int32_t* positions, int32_t* lengths,
                int32_t* cu_seqlens, int32_t* max_seqlen, int64_t* error_out);

/* The layout of the kernels' argument structs as this compiler lays them out (nvcc follows the host ABI),
 * so the CUDA backend's Java encoding of them can be checked without a GPU. which: 0 cb_pad_args,
 * 1 cb_stack_args, 2 cb_pack_args. out[0] = sizeof, out[1 + i] = offsetof of field i in declaration order. Returns the
 * number of values written, or -1 for an unknown struct or too small a capacity. */
int32_t cb_struct_layout(int32_t which, int64_t* out, int32_t capacity);

/* The benchmarks' ceiling for padding batch rows indices[] of a ragged store POST to L with pad 0: first every
 * row's offsets, then per row a memcpy of its tokens (or, when the element sizes differ, a plain integer cast per
 * element: the cheapest move of those bytes), a memset of its padding, lengths[b], and a memset of its mask; rows
 * split over up to `threads` threads as cb_pad splits them. Sizes 2, 4 or 8; returns 0, or 3. */
int32_t cb_ceiling_pad(const void* values, int32_t src_size, const int64_t* offsets, const int64_t* indices,
                       int64_t batch, int64_t L, int32_t dst_size, void* out, int32_t* lengths, uint8_t* mask,
                       int32_t threads);

/* memcpy, for the benchmarks' bandwidth ceiling. */
void cb_copy(void* dst, const void* src, int64_t bytes);

#ifdef __cplusplus
}
#endif
#endif
