// emu_test_hooks.cpp: the checked-access hooks for kernels compiled into the test program rather than
// into libcuda.so.1 (whose own hooks are hidden): each forwards to the emulator's exported check.
#include <stddef.h>

extern "C" void cuda_emu_check(const volatile void* p, size_t n, int write);
extern "C" void cuda_emu_check_sized(const volatile void* p, size_t n, int write);

#define HOOKS(n)                                                                               \
    extern "C" void __asan_load##n##_noabort(void* p) { cuda_emu_check_sized(p, n, 0); }       \
    extern "C" void __asan_store##n##_noabort(void* p) { cuda_emu_check_sized(p, n, 1); }
HOOKS(1)
HOOKS(2)
HOOKS(4)
HOOKS(8)
HOOKS(16)
extern "C" void __asan_loadN_noabort(void* p, size_t n) { cuda_emu_check(p, n, 0); }
extern "C" void __asan_storeN_noabort(void* p, size_t n) { cuda_emu_check(p, n, 1); }
extern "C" void __asan_before_dynamic_init(const char*) {}
extern "C" void __asan_after_dynamic_init(void) {}
