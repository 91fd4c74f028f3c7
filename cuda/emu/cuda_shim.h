// cuda_shim.h: the CUDA language as g++ sees it when the emulator compiles our kernels
// (emu_kernels.cpp includes this, then ../cb_kernels.cu, unmodified).
//
// - __global__, __device__, __host__, __forceinline__ vanish; __shared__ becomes a static in the section
//   cuda_emu_shared, which the threads of a block share (they run as fibers, one kernel at a time).
// - blockIdx, threadIdx, blockDim, gridDim are calls into the launcher (emu_driver.cpp), which sets them
//   per thread; they are not memory the kernel reads.
// - Every load and store of the kernel code is checked: this file is compiled with
//   -fsanitize=kernel-address in outline mode, so g++ calls __asan_{load,store}N_noabort before each
//   access, and the launcher checks the range against the device allocations (emu_driver.cpp).
//   memcpy/memset are routed through the same check here, because g++ leaves library calls alone.
// - atomics and __syncthreads as the kernels use them.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "emu_dim.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
// Shared memory: one static per kernel TU section, which the emulator lets kernels read and write. Kernels
// run one at a time (the emulator's lock), so the fibers of the running block are its only users.
#define __shared__ static __attribute__((section("cuda_emu_shared")))
#define __restrict__ __restrict

struct alignas(16) uint4 { unsigned int x, y, z, w; };
struct alignas(8) uint2 { unsigned int x, y; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(16) float4 { float x, y, z, w; };

extern "C" {
uint3 cuda_emu_block_idx(void);
uint3 cuda_emu_thread_idx(void);
uint3 cuda_emu_block_dim(void);
uint3 cuda_emu_grid_dim(void);
void cuda_emu_syncthreads(void);
// Checks [p, p + n) for a kernel access (write: 1) and aborts the launch with a violation when it is not
// inside one live device allocation the launching context may use.
void cuda_emu_check(const volatile void* p, size_t n, int write);
}

#define blockIdx (cuda_emu_block_idx())
#define threadIdx (cuda_emu_thread_idx())
#define blockDim (cuda_emu_block_dim())
#define gridDim (cuda_emu_grid_dim())
#define __syncthreads() cuda_emu_syncthreads()

static inline void* cuda_emu_memcpy(void* d, const void* s, size_t n) {
    cuda_emu_check(s, n, 0);
    cuda_emu_check(d, n, 1);
    return __builtin_memcpy(d, s, n);
}
static inline void* cuda_emu_memset(void* d, int v, size_t n) {
    cuda_emu_check(d, n, 1);
    return __builtin_memset(d, v, n);
}
#define memcpy cuda_emu_memcpy
#define memset cuda_emu_memset

// Device atomics: the emulator runs one kernel thread at a time, but keep them real atomics.
static inline unsigned long long atomicMin(unsigned long long* p, unsigned long long v) {
    cuda_emu_check(p, sizeof *p, 1);
    unsigned long long old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (v < old && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}
static inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) {
    cuda_emu_check(p, sizeof *p, 1);
    return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
static inline int atomicAdd(int* p, int v) {
    cuda_emu_check(p, sizeof *p, 1);
    return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
