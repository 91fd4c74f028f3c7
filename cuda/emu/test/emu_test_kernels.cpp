// emu_test_kernels.cpp: kernels that exist only to test the emulator itself (emu_selftest.cpp): one that
// needs __syncthreads and shared memory, and ones that break the rules on purpose. Compiled with the same
// checked-access flags as the real kernels and registered with cuda_emu_register_kernels.
#include "../cuda_shim.h"
#include "../emu_kernel_table.h"

// Sum of each block's slice of `in` through shared memory: threads write, sync, thread 0 reads all.
extern "C" __global__ void emu_test_block_sum(const int* in, int* out, int n) {
    __shared__ int partial[1024];
    int i = (int) (blockIdx.x * blockDim.x + threadIdx.x);
    partial[threadIdx.x] = i < n ? in[i] : 0;
    __syncthreads();
    if (threadIdx.x == 0) {
        int s = 0;
        for (unsigned t = 0; t < blockDim.x; t++) s += partial[t];
        out[blockIdx.x] = s;
    }
    __syncthreads();
    partial[threadIdx.x] = -1;   // reused after the barrier: a missing barrier above would corrupt sums
}

extern "C" __global__ void emu_test_copy(const int* in, int* out, int n) {
    for (int i = (int) (blockIdx.x * blockDim.x + threadIdx.x); i < n; i += (int) (gridDim.x * blockDim.x)) {
        out[i] = in[i];
    }
}

// Writes one element past the end: p[n].
extern "C" __global__ void emu_test_off_by_one(int* p, int n) {
    if (blockIdx.x == 0 && threadIdx.x == 0) p[n] = 1;
}

extern "C" __global__ void emu_test_misaligned(char* p) {
    if (threadIdx.x == 0) *(int*) (p + 1) = 7;
}

// Calls __syncthreads but is registered without EMU_KERNEL_SYNC.
extern "C" __global__ void emu_test_undeclared_sync(int* p) {
    __syncthreads();
    p[threadIdx.x] = 1;
}

// Half the threads leave before the barrier the others wait at.
extern "C" __global__ void emu_test_partial_barrier(int* p) {
    if (threadIdx.x < blockDim.x / 2) return;
    __syncthreads();
    p[threadIdx.x] = 1;
}

// Block 0 leaves a value in shared memory; block 1 reads it without writing first (uninitialised on a GPU).
extern "C" __global__ void emu_test_shared_between_blocks(int* out) {
    __shared__ int cell;
    if (blockIdx.x == 0) cell = 42;
    out[blockIdx.x] = cell;
}

static const cuda_emu::KernelEntry test_table[] = {
    EMU_KERNEL_SYNC(emu_test_partial_barrier),
    EMU_KERNEL(emu_test_shared_between_blocks),
    EMU_KERNEL_SYNC(emu_test_block_sum),
    EMU_KERNEL(emu_test_copy),
    EMU_KERNEL(emu_test_off_by_one),
    EMU_KERNEL(emu_test_misaligned),
    EMU_KERNEL(emu_test_undeclared_sync),
    EMU_KERNEL_END,
};

extern "C" const cuda_emu::KernelEntry* emu_test_kernel_table(void) { return test_table; }

extern "C" void emu_test_register_shared(void) { cuda_emu_register_shared(__start_cuda_emu_shared, __stop_cuda_emu_shared); }
