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

#include <utility>

#include "emu_kernels.h"

namespace cuda_emu {
namespace {

template <typename... A, size_t... I>
void call(void (*fn)(A...), void** p, std::index_sequence<I...>) {
    fn(*static_cast<A*>(p[I])...);
}

template <auto Fn>
struct Entry;

template <typename... A, void (*Fn)(A...)>
struct Entry<Fn> {
    static_assert(sizeof...(A) <= kMaxParams, "too many kernel parameters for the emulator");
    static void run(void** p) { call(Fn, p, std::index_sequence_for<A...>{}); }
    static KernelEntry make(const char* name, bool sync) {
        KernelEntry e{name, (int) sizeof...(A), {sizeof(A)...}, {alignof(A)...}, sync, &run};
        return e;
    }
};

#define EMU_KERNEL(f) Entry<&f>::make(#f, false)
#define EMU_KERNEL_SYNC(f) Entry<&f>::make(#f, true)

const KernelEntry table[] = {
    EMU_KERNEL(cb_pad_kernel),
    EMU_KERNEL(cb_pad_kernel16),
    EMU_KERNEL(cb_stack_kernel),
    EMU_KERNEL(cb_scatter_indices_kernel),
    KernelEntry{nullptr, 0, {}, {}, false, nullptr},
};

}  // namespace

const KernelEntry* kernels() { return table; }

}  // namespace cuda_emu
