// emu_kernel_table.h: EMU_KERNEL(f) makes the emulator's table entry of kernel f from its C++ signature:
// the parameters' sizes and alignments, and a trampoline that calls f with the parameter buffer that
// cuLaunchKernel copied. Included by kernel translation units only (emu_kernels.cpp, test kernels).
#pragma once
#include <utility>

#include "emu_kernels.h"

namespace cuda_emu {

template <typename... A, size_t... I>
void call_kernel(void (*fn)(A...), void** p, std::index_sequence<I...>) {
    fn(*static_cast<A*>(p[I])...);
}

template <auto Fn>
struct Entry;

template <typename... A, void (*Fn)(A...)>
struct Entry<Fn> {
    static_assert(sizeof...(A) <= kMaxParams, "too many kernel parameters for the emulator");
    static void run(void** p) { call_kernel(Fn, p, std::index_sequence_for<A...>{}); }
    static KernelEntry make(const char* name, bool sync) {
        KernelEntry e{name, (int) sizeof...(A), {sizeof(A)...}, {alignof(A)...}, sync, &run};
        return e;
    }
};

}  // namespace cuda_emu

// The bounds of this image's __shared__ variables (GNU ld defines them when the section exists).
extern "C" char __start_cuda_emu_shared[] __attribute__((weak, visibility("hidden")));
extern "C" char __stop_cuda_emu_shared[] __attribute__((weak, visibility("hidden")));
extern "C" void cuda_emu_register_shared(const void* lo, const void* hi);

#define EMU_KERNEL(f) ::cuda_emu::Entry<&f>::make(#f, false)
#define EMU_KERNEL_SYNC(f) ::cuda_emu::Entry<&f>::make(#f, true)
#define EMU_KERNEL_END ::cuda_emu::KernelEntry{nullptr, 0, {}, {}, false, nullptr}
