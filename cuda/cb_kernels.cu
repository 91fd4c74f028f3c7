// cb_kernels.cu: the CUDA kernels over the row functions of cb_*.cuh. extern "C" names, no allocation;
// errors are reported through a caller-provided device word (the first failing output element, by
// atomicMin), never by aborting.
//
// Work split: blockIdx.y strides over the rows (pad, stack) or the sequences and gaps (pack), so a row's
// geometry is computed once per row by each thread, from the offsets; blockIdx.x and threadIdx.x stride
// over the row's elements (or 16-byte chunks), where placing an element is an add and a compare: no
// division in a loop, typed loads and stores of the element's size, 16-byte stores in cb_pad_kernel16.
// Any grid is correct (a 1-D grid walks every row in every block); the host launches gridDim.y = rows
// (capped) and gridDim.x = blocks per row (CudaContext.launchRows).
// The build checks (cuda/Makefile, ptxas -v) that no kernel has a stack frame or spills.
// Build (the Maven build runs this through cuda/Makefile):
//   nvcc -fatbin -O3 -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
//        -gencode arch=compute_90,code=compute_90 -o cubatch.fatbin cb_kernels.cu
#include "cb_pad.cuh"
#include "cb_collate.cuh"
#include "cb_pack.cuh"

__device__ __forceinline__ void cb_report(unsigned long long* error, int64_t where) {
    atomicMin(error, (unsigned long long) where);
}

// This thread's first element of a row and its stride.
__device__ __forceinline__ int64_t cb_lane() { return (int64_t) blockIdx.x * blockDim.x + threadIdx.x; }
__device__ __forceinline__ int64_t cb_lanes() { return (int64_t) gridDim.x * blockDim.x; }

// Row b's geometry; the first lane of the row writes lengths[b] or reports the row as too long (rows exist
// even when L = 0). Returns whether the row is padded.
__device__ __forceinline__ bool cb_pad_row_begin(const cb_pad_args* a, int64_t b, cb_row_geometry* g,
                                                 unsigned long long* too_long_error) {
    *g = cb_pad_geometry(a, b);
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        if (g->status != CB_OK) {
            cb_report(too_long_error, b);
        } else {
            cb_pad_length(a, g, b);
        }
    }
    return g->status == CB_OK;
}

// Every output element (b, t, f) of [B, L, F], mask and positions [B, L], lengths [B]. error: the first
// failing element (value) or row (too long); both words start at ~0.
extern "C" __global__ void cb_pad_kernel(cb_pad_args a, unsigned long long* value_error,
                                         unsigned long long* too_long_error) {
    const bool bits = cb_bit_copy(a.src_dtype, a.dst_dtype);
    for (int64_t b = blockIdx.y; b < a.batch; b += gridDim.y) {
        cb_row_geometry g;
        if (!cb_pad_row_begin(&a, b, &g, too_long_error)) {
            continue;
        }
        cb_row_span s = cb_pad_span(&a, &g, b);
        if (bits) {
            cb_pad_bits_part(&a, &s, cb_lane(), cb_lanes());
        } else {
            int64_t bad = cb_pad_convert_part(&a, &s, b, cb_lane(), cb_lanes());
            if (bad >= 0) {
                cb_report(value_error, bad);
            }
        }
        cb_pad_masks_part(&a, &g, b, cb_lane(), cb_lanes());
    }
}

// The same-dtype case with 16-byte stores. The host launches it only for a bit copy (cb_bit_copy: same
// dtype, not bool), each row's bytes a multiple of 16 and `out` 16-byte aligned; otherwise cb_pad_kernel.
// Masks, positions and lengths as in cb_pad_kernel.
extern "C" __global__ void cb_pad_kernel16(cb_pad_args a, unsigned long long* too_long_error) {
    for (int64_t b = blockIdx.y; b < a.batch; b += gridDim.y) {
        cb_row_geometry g;
        if (!cb_pad_row_begin(&a, b, &g, too_long_error)) {
            continue;
        }
        cb_row_span s = cb_pad_span(&a, &g, b);
        cb_pad_wide_part(&a, &s, cb_lane(), cb_lanes());
        cb_pad_masks_part(&a, &g, b, cb_lane(), cb_lanes());
    }
}

// Row b of [B, row_elems]: a typed bit copy, or a conversion reporting the first value that does not fit.
extern "C" __global__ void cb_stack_kernel(cb_stack_args a, unsigned long long* value_error) {
    const bool bits = cb_bit_copy(a.src_dtype, a.dst_dtype);
    for (int64_t b = blockIdx.y; b < a.batch; b += gridDim.y) {
        if (bits) {
            cb_stack_bits_part(&a, b, cb_lane(), cb_lanes());
        } else {
            int64_t bad = cb_stack_convert_part(&a, b, cb_lane(), cb_lanes());
            if (bad >= 0) {
                cb_report(value_error, bad);
            }
        }
    }
}

// Packing: blockIdx.y = j strides over [0, S]: sequence j (j < S: its data, mask 1, positions 0, 1, ...)
// and gap j (the padding cells before it, or after the last sequence: pad value, mask 0, position 0).
// Block (0, 0)'s first thread writes lengths, cu_seqlens and max_seqlen. value_error: the first output
// element whose value does not fit (atomicMin), ~0 when none.
extern "C" __global__ void cb_pack_kernel(cb_pack_args a, unsigned long long* value_error) {
    if (blockIdx.x == 0 && blockIdx.y == 0 && threadIdx.x == 0) {
        cb_pack_sequences(&a);
    }
    for (int64_t j = blockIdx.y; j <= a.seqs; j += gridDim.y) {
        cb_pack_gap_part(&a, j, cb_lane(), cb_lanes());
        if (j < a.seqs) {
            int64_t bad = cb_pack_seq_part(&a, j, cb_lane(), cb_lanes());
            if (bad >= 0) {
                cb_report(value_error, bad);
            }
            cb_pack_seq_masks_part(&a, j, cb_lane(), cb_lanes());
        }
    }
}
