// emu_kernels.cpp: cubatch's CUDA kernels (../cb_kernels.cu, the same source nvcc compiles into the
// fatbin) compiled by g++ for the emulator. Built with -fsanitize=kernel-address in outline mode
// (Makefile), so every load and store calls the range check in emu_driver.cpp; nothing else of the
// emulator is instrumented.
//
// Adding a kernel to cb_kernels.cu: add one EMU_KERNEL line below (EMU_KERNEL_SYNC when it calls
// __syncthreads or uses __shared__ memory across threads, so its threads run as fibers). A kernel the
// fatbin holds but this table lacks fails cuModuleGetFunction under the emulator with a message saying so.
#include "cuda_shim.h"

#include "../cb_kernels.cu"

#include "emu_kernel_table.h"

namespace cuda_emu {
namespace {

const KernelEntry table[] = {
    EMU_KERNEL(cb_pad_kernel),
    EMU_KERNEL(cb_pad_kernel16),
    EMU_KERNEL(cb_stack_kernel),
    EMU_KERNEL(cb_pack_kernel),
    EMU_KERNEL_END,
};

}  // namespace

const KernelEntry* kernels() { return table; }

void shared_bounds(const void** lo, const void** hi) {
    *lo = __start_cuda_emu_shared;
    *hi = __stop_cuda_emu_shared;
}

}  // namespace cuda_emu
