// emu_dlopen_check.cpp: loads the emulator with dlopen, as a JVM does (JCuda, java.lang.foreign), leaks one
// allocation and one stream, and exits. The Makefile's test checks the exit report it prints: a dlopened
// library's globals are destroyed before its destructor functions run, so the report must not depend on them.
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef int (*fn_init)(unsigned);
typedef int (*fn_retain)(void**, int);
typedef int (*fn_current)(void*);
typedef int (*fn_alloc)(unsigned long long*, size_t);
typedef int (*fn_stream)(void**, unsigned);

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: emu_dlopen_check PATH/libcuda.so.1\n");
        return 2;
    }
    void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    void* ctx = nullptr;
    void* stream = nullptr;
    unsigned long long p = 0;
    int r = ((fn_init) dlsym(lib, "cuInit"))(0);
    r |= ((fn_retain) dlsym(lib, "cuDevicePrimaryCtxRetain"))(&ctx, 0);
    r |= ((fn_current) dlsym(lib, "cuCtxSetCurrent"))(ctx);
    r |= ((fn_alloc) dlsym(lib, "cuMemAlloc_v2"))(&p, 100);
    r |= ((fn_stream) dlsym(lib, "cuStreamCreate"))(&stream, 1);
    if (r != 0) {
        fprintf(stderr, "a driver call failed\n");
        return 1;
    }
    return 0;   // exit() runs the library's exit report
}
