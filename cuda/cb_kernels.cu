// cb_kernels.cu: the CUDA kernels over the element functions of cb_*.cuh. extern "C" names, grid-stride
// loops, no allocation; errors are reported through a caller-provided device word (the first failing
// output element, by atomicMin), never by aborting.
// Build (the Maven build runs this through cuda/Makefile):
//   nvcc -fatbin -O3 -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
//        -gencode arch=compute_90,code=compute_90 -o cubatch.fatbin cb_kernels.cu
#include "cb_pad.cuh"
#include "cb_collate.cuh"
#include "cb_pack.cuh"

__device__ __forceinline__ void cb_report(unsigned long long* error, int64_t where) {
    atomicMin(error, (unsigned long long) where);
}

// The per-row part both pad kernels share, grid-stride over rows: lengths[b], or the first row that is
// too long (rows exist even when L = 0, so this cannot hang off the element loops).
__device__ __forceinline__ void cb_pad_rows(const cb_pad_args* a, unsigned long long* too_long_error) {
    for (int64_t b = (int64_t) blockIdx.x * blockDim.x + threadIdx.x; b < a->batch;
         b += (int64_t) gridDim.x * blockDim.x) {
        cb_row_geometry g = cb_pad_geometry(a, b);
        if (g.status != CB_OK) {
            cb_report(too_long_error, b);
        } else {
            cb_pad_length(a, &g, b);
        }
    }
}

// One thread per output element (b, t, f) of [B, L, F]; the f == 0 thread of each (b, t) also writes the
// mask and position; cb_pad_rows writes lengths[b]. error: the first
// failing element (value) or row (too long); both words start at ~0.
extern "C" __global__ void cb_pad_kernel(cb_pad_args a, unsigned long long* value_error,
                                         unsigned long long* too_long_error) {
    cb_pad_rows(&a, too_long_error);
    int64_t total = a.batch * a.out_len * a.features;
    for (int64_t e = (int64_t) blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t) gridDim.x * blockDim.x) {
        int64_t f = e % a.features;
        int64_t t = (e / a.features) % a.out_len;
        int64_t b = e / (a.features * a.out_len);
        cb_row_geometry g = cb_pad_geometry(&a, b);
        if (g.status != CB_OK) {
            continue;   // reported by the row loop above
        }
        if (cb_pad_element(&a, &g, b, t, f) != CB_OK) {
            cb_report(value_error, e);
        }
        if (f == 0) {
            cb_pad_masks(&a, &g, b, t);
        }
    }
}

// The same-dtype case with 16-byte stores: one thread per 16-byte chunk of the output rows. The host
// launches it only for a bit copy (cb_bit_copy: same dtype, not bool), each row's bytes a multiple of 16 and `out`
// 16-byte aligned; otherwise cb_pad_kernel. Masks, positions and lengths as in cb_pad_kernel.
extern "C" __global__ void cb_pad_kernel16(cb_pad_args a, unsigned long long* too_long_error) {
    int64_t row_bytes = a.out_len * a.features * cb_dtype_size(a.dst_dtype);
    int64_t chunks = row_bytes / 16;
    cb_pad_rows(&a, too_long_error);
    for (int64_t c = (int64_t) blockIdx.x * blockDim.x + threadIdx.x; c < a.batch * chunks;
         c += (int64_t) gridDim.x * blockDim.x) {
        int64_t b = c / chunks;
        cb_row_geometry g = cb_pad_geometry(&a, b);
        if (g.status != CB_OK) {
            continue;
        }
        uint4 v;
        cb_pad_chunk16(&a, &g, (c % chunks) * 16, (unsigned char*) &v);
        *(uint4*) ((unsigned char*) a.out + b * row_bytes + (c % chunks) * 16) = v;
    }
    for (int64_t e = (int64_t) blockIdx.x * blockDim.x + threadIdx.x; e < a.batch * a.out_len;
         e += (int64_t) gridDim.x * blockDim.x) {
        cb_row_geometry g = cb_pad_geometry(&a, e / a.out_len);
        if (g.status == CB_OK) {
            cb_pad_masks(&a, &g, e / a.out_len, e % a.out_len);
        }
    }
}

extern "C" __global__ void cb_stack_kernel(cb_stack_args a, unsigned long long* value_error) {
    int64_t total = a.batch * a.row_elems;
    for (int64_t e = (int64_t) blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t) gridDim.x * blockDim.x) {
        if (cb_stack_element(&a, e) != CB_OK) {
            cb_report(value_error, e);
        }
    }
}

// Packing: one thread per output element of [rows, maxlen, F]; the f == 0 thread of each timestep also
// writes its mask and position; thread 0 writes lengths, cu_seqlens and max_seqlen. value_error: the first
// output element whose value does not fit (atomicMin), ~0 when none.
extern "C" __global__ void cb_pack_kernel(cb_pack_args a, unsigned long long* value_error) {
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        cb_pack_sequences(&a);
    }
    int64_t total = a.rows * a.maxlen * a.features;
    for (int64_t e = (int64_t) blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t) gridDim.x * blockDim.x) {
        if (cb_pack_element(&a, e) != CB_OK) {
            cb_report(value_error, e);
        }
        if (e % a.features == 0) {
            cb_pack_masks(&a, e / a.features);
        }
    }
}
