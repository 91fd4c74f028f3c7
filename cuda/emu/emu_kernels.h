// emu_kernels.h: what the kernel translation unit (emu_kernels.cpp, compiled with checked accesses) tells
// the driver (emu_driver.cpp): the kernels it holds, each with its parameters' sizes (from the kernel's
// own C++ signature) and a trampoline that calls it with the parameter buffer cuLaunchKernel received.
#pragma once
#include <stddef.h>

namespace cuda_emu {

constexpr int kMaxParams = 16;

struct KernelEntry {
    const char* name;                 // the extern "C" name, as cuModuleGetFunction asks for it
    int param_count;
    size_t param_size[kMaxParams];
    size_t param_align[kMaxParams];
    bool uses_syncthreads;            // threads of a block run as fibers (see emu_kernels.cpp)
    void (*run)(void** params);       // one thread: calls the kernel with *(T_i*) params[i]
};

// The table, terminated by an entry whose name is nullptr. Test-only kernels (emu/test) add to it
// through cuda_emu_register_kernels.
const KernelEntry* kernels();
// The bounds of emu_kernels.cpp's __shared__ variables (both nullptr when it has none).
void shared_bounds(const void** lo, const void** hi);

}  // namespace cuda_emu

extern "C" void cuda_emu_register_kernels(const cuda_emu::KernelEntry* table);
