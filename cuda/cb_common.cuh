// cb_common.cuh: what every cubatch kernel header shares: the host/device qualifier, dtype and status
// codes. One source of truth: these headers are compiled by nvcc into the CUDA kernels (cb_kernels.cu)
// and by g++ into the CPU library (../native/cubatch.cpp). No CUDA types, no allocation, no exit().
#pragma once
#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define CB_HD __host__ __device__ __forceinline__
#define CB_HD_MEMBER __host__ __device__ __forceinline__
#else
#define CB_HD static inline
#define CB_HD_MEMBER inline
#endif

// Loop unrolling where nvcc compiles; g++ unrolls by itself at -O3 (and would warn on the pragma).
#ifdef __CUDACC__
#define CB_UNROLL _Pragma("unroll")
#else
#define CB_UNROLL
#endif

// 16 bytes moved by one vector load or store: CUDA's uint4 on the device, the same layout on the host.
#ifdef __CUDACC__
typedef uint4 cb_u128;
#else
struct alignas(16) cb_u128 { uint32_t x, y, z, w; };
#endif

// Element types. The numbers are the ordinals of io.cubatch.store.DType; DTypeCodesTest checks both agree.
enum {
    CB_BOOL = 0, CB_INT8 = 1, CB_UINT8 = 2, CB_INT16 = 3, CB_UINT16 = 4, CB_INT32 = 5, CB_INT64 = 6,
    CB_FLOAT16 = 7, CB_FLOAT32 = 8, CB_FLOAT64 = 9, CB_BFLOAT16 = 10, CB_DTYPE_COUNT = 11
};

// Status codes returned by the entry points (0 is success).
enum {
    CB_OK = 0,
    CB_ERR_VALUE_DOES_NOT_FIT = 1,   // a value cannot be represented in the output dtype
    CB_ERR_TOO_LONG = 2,             // a sequence is longer than maxlen and no truncation side was chosen
    CB_ERR_ARGUMENT = 3              // an argument the Java side should have rejected (a bug if ever seen)
};

enum { CB_SIDE_PRE = 0, CB_SIDE_POST = 1, CB_SIDE_NONE = 2 };

CB_HD int cb_dtype_size(int dtype) {
    switch (dtype) {
        case CB_BOOL: case CB_INT8: case CB_UINT8: return 1;
        case CB_INT16: case CB_UINT16: case CB_FLOAT16: case CB_BFLOAT16: return 2;
        case CB_INT32: case CB_FLOAT32: return 4;
        case CB_INT64: case CB_FLOAT64: return 8;
        default: return 0;
    }
}

// Whether a same-dtype element is copied as its bits: every dtype but bool, whose byte is normalised on
// load (any nonzero byte is true, 1, as NumPy reads it), so that a bool .npy holding 2 or 255 pads as 1.
CB_HD int cb_bit_copy(int src_dtype, int dst_dtype) {
    return src_dtype == dst_dtype && src_dtype != CB_BOOL;
}

CB_HD int cb_dtype_is_float(int dtype) {
    return dtype == CB_FLOAT16 || dtype == CB_FLOAT32 || dtype == CB_FLOAT64 || dtype == CB_BFLOAT16;
}
