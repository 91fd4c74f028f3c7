// emu_selftest.cpp: the emulator's own tests. Each case states a rule of the real driver (or of the
// emulator's strictness) and checks that the emulator keeps it: a violation is counted and answered with
// the driver's code, async work is not done before it is observed, ordering between streams follows the
// legacy/non-blocking rules, kernels that synchronise run as fibers, and the exit report names leaks.
// Run by `make test` (the Maven build) with the path of the real fatbin as argument.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "../cuda_emu_api.h"
#include "../emu_kernels.h"

extern "C" const cuda_emu::KernelEntry* emu_test_kernel_table(void);
extern "C" void emu_test_register_shared(void);

static int failures = 0;
static int checks = 0;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        checks++;                                                              \
        if (!(cond)) {                                                         \
            failures++;                                                        \
            fprintf(stderr, "FAILED %s:%d: %s: ", __FILE__, __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
        }                                                                      \
    } while (0)
#define OK(call) CHECK((call) == CUDA_SUCCESS, "%s", #call)

static long long counter(int i) {
    long long c[14];
    cudaEmuCounters(c, 14);
    return c[i];
}
static long long violations() { return counter(0); }

// A fatbin header around the .nv.info names of the test kernels: what cuModuleLoadData looks for.
static std::vector<unsigned char> fake_fatbin() {
    std::string names;
    for (const cuda_emu::KernelEntry* k = emu_test_kernel_table(); k->name; k++) {
        names += std::string(".nv.info.") + k->name + '\0';
    }
    std::vector<unsigned char> img(16 + names.size());
    uint32_t magic = 0xBA55ED50u;
    uint16_t version = 1, header = 16;
    uint64_t payload = names.size();
    memcpy(&img[0], &magic, 4);
    memcpy(&img[4], &version, 2);
    memcpy(&img[6], &header, 2);
    memcpy(&img[8], &payload, 8);
    memcpy(&img[16], names.data(), names.size());
    return img;
}

static CUfunction function(CUmodule m, const char* name) {
    CUfunction f = nullptr;
    CHECK(cuModuleGetFunction(&f, m, name) == CUDA_SUCCESS, "kernel %s", name);
    return f;
}

static CUresult launch(CUfunction f, unsigned grid, unsigned block, CUstream s, std::vector<void*> params) {
    return cuLaunchKernel(f, grid, 1, 1, block, 1, 1, 0, s, params.data(), nullptr);
}

// A child process that leaks one allocation and one stream: the exit report must say so.
static void leak_report_in_child() {
    int fds[2];
    if (pipe(fds) != 0) { perror("pipe"); failures++; return; }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        CUcontext c;
        CUdeviceptr p;
        CUstream s;
        cuDevicePrimaryCtxRetain(&c, 1);
        cuCtxSetCurrent(c);
        cuMemAlloc_v2(&p, 100);
        cuStreamCreate(&s, CU_STREAM_NON_BLOCKING);
        exit(0);
    }
    close(fds[1]);
    char buf[4096];
    std::string out;
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, (size_t) n);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(out.find("leaked allocations") != std::string::npos, "child stderr: %s", out.c_str());
    // the parent's counts so far are inherited; the child adds 1 allocation and 1 stream to them
    long long allocs = counter(1) + counter(2) + counter(11) + 1, streams = counter(3) + counter(12) + 1;
    char expect[256];
    snprintf(expect, sizeof expect, "%lld leaked allocations, %lld leaked streams", allocs, streams);
    CHECK(out.find(expect) != std::string::npos, "expected '%s' in: %s", expect, out.c_str());
}

int main(int argc, char** argv) {
    setenv("CUDA_EMU_DEVICES", "2", 1);
    setenv("CUDA_EMU_MEMORY", "64M", 1);
    cuda_emu_register_kernels(emu_test_kernel_table());
    emu_test_register_shared();

    // before cuInit: a violation
    int count = 0;
    CHECK(cuDeviceGetCount(&count) == CUDA_ERROR_NOT_INITIALIZED, "call before cuInit");
    CHECK(violations() == 1, "counted");
    OK(cuInit(0));
    OK(cuDeviceGetCount(&count));
    CHECK(count == 2, "CUDA_EMU_DEVICES=2 gives %d devices", count);
    char name[64];
    OK(cuDeviceGetName(name, sizeof name, 0));
    CHECK(strcmp(name, "cuda-emu") == 0, "name %s", name);
    size_t total = 0;
    OK(cuDeviceTotalMem_v2(&total, 1));
    CHECK(total == (64u << 20), "CUDA_EMU_MEMORY=64M gives %zu", total);

    // no current context
    CUdeviceptr d = 0;
    long long v0 = violations();
    CHECK(cuMemAlloc_v2(&d, 16) == CUDA_ERROR_INVALID_CONTEXT, "alloc without a context");
    CHECK(violations() == v0 + 1, "counted");

    CUcontext c0, c1;
    OK(cuDevicePrimaryCtxRetain(&c0, 0));
    OK(cuDevicePrimaryCtxRetain(&c1, 1));
    CHECK(counter(5) == 2, "two context creations, got %lld", counter(5));
    OK(cuCtxSetCurrent(c0));

    // modules: the real fatbin serves the real kernels; other images are refused
    CUmodule real = nullptr, test = nullptr;
    if (argc > 1) {
        FILE* f = fopen(argv[1], "rb");
        if (!f) printf("emu_selftest: %s missing (no nvcc in this build): the real-fatbin checks are skipped\n", argv[1]);
        if (f) {
            std::vector<unsigned char> img(1 << 22);
            size_t n = fread(img.data(), 1, img.size(), f);
            fclose(f);
            img.resize(n);
            OK(cuModuleLoadData(&real, img.data()));
            function(real, "cb_pad_kernel");
            function(real, "cb_stack_kernel");
            CUfunction none;
            CHECK(cuModuleGetFunction(&none, real, "emu_test_copy") == CUDA_ERROR_NOT_FOUND, "not in the fatbin");
            OK(cuModuleUnload(real));
        }
    }
    unsigned char junk[64] = {1, 2, 3};
    v0 = violations();
    CHECK(cuModuleLoadData(&test, junk) == CUDA_ERROR_INVALID_IMAGE, "not a fatbin");
    CHECK(violations() == v0 + 1, "counted");
    std::vector<unsigned char> fat = fake_fatbin();
    OK(cuModuleLoadData(&test, fat.data()));
    CUfunction copy = function(test, "emu_test_copy");
    CUfunction sum = function(test, "emu_test_block_sum");

    const int n = 1000;
    CUdeviceptr a, b;
    OK(cuMemAlloc_v2(&a, n * 4));
    OK(cuMemAlloc_v2(&b, n * 4));
    int* pinned = nullptr;
    OK(cuMemHostAlloc((void**) &pinned, n * 4, 0));
    CUstream nb, blocking;
    OK(cuStreamCreate(&nb, CU_STREAM_NON_BLOCKING));
    OK(cuStreamCreate(&blocking, CU_STREAM_DEFAULT));

    // lazy: an async D2H is not done before the stream is synchronised
    OK(cuMemsetD32Async(a, 42, n, nb));
    for (int i = 0; i < n; i++) pinned[i] = -1;
    OK(cuMemcpyDtoHAsync_v2(pinned, a, n * 4, nb));
    CHECK(pinned[0] == -1 && pinned[n - 1] == -1, "the copy ran before synchronisation");
    OK(cuStreamSynchronize(nb));
    CHECK(pinned[0] == 42 && pinned[n - 1] == 42, "after synchronisation: %d %d", pinned[0], pinned[n - 1]);

    // lazy: an async H2D reads the host bytes when it runs, so rewriting them before a sync sends the new ones
    for (int i = 0; i < n; i++) pinned[i] = i;
    OK(cuMemcpyHtoDAsync_v2(a, pinned, n * 4, nb));
    pinned[5] = 555;   // a bug: staging memory reused before the copy completed
    OK(cuMemcpyDtoHAsync_v2(pinned, a, n * 4, nb));
    OK(cuStreamSynchronize(nb));
    CHECK(pinned[5] == 555, "the H2D copy read the host bytes at enqueue time, not when it ran");

    // async copies need pinned host memory
    std::vector<int> pageable(n, 3);
    v0 = violations();
    CHECK(cuMemcpyHtoDAsync_v2(a, pageable.data(), n * 4, nb) == CUDA_ERROR_INVALID_VALUE, "pageable async");
    CHECK(violations() == v0 + 1, "counted");
    v0 = violations();
    CHECK(cuMemcpyDtoHAsync_v2(pinned + 1, a, n * 4, nb) == CUDA_ERROR_INVALID_VALUE, "past the pinned block");
    CHECK(cuMemcpyHtoD_v2(a + 4, pageable.data(), n * 4) == CUDA_ERROR_INVALID_VALUE, "past the allocation");
    CHECK(violations() == v0 + 2, "counted");

    // legacy stream rules: a synchronous H2D from pageable memory returns before the DMA lands; a kernel on
    // a non-blocking stream is not ordered after it, a kernel on a blocking stream is
    OK(cuMemsetD32_v2(b, 0, n));
    OK(cuCtxSynchronize());
    for (int i = 0; i < n; i++) pageable[i] = 7;
    OK(cuMemcpyHtoD_v2(a, pageable.data(), n * 4));
    OK(launch(copy, 4, 256, nb, {&a, &b, (void*) &n}));
    OK(cuMemcpyDtoHAsync_v2(pinned, b, n * 4, nb));
    OK(cuStreamSynchronize(nb));
    CHECK(pinned[0] != 7, "non-blocking stream saw a legacy-stream copy it is not ordered after (%d)", pinned[0]);
    OK(cuCtxSynchronize());
    for (int i = 0; i < n; i++) pageable[i] = 8;
    OK(cuMemcpyHtoD_v2(a, pageable.data(), n * 4));
    OK(launch(copy, 4, 256, blocking, {&a, &b, (void*) &n}));
    OK(cuMemcpyDtoHAsync_v2(pinned, b, n * 4, blocking));
    OK(cuStreamSynchronize(blocking));
    CHECK(pinned[0] == 8 && pinned[n - 1] == 8, "blocking stream must see the legacy copy: %d", pinned[0]);

    // events: stream nb waits for `blocking` at the event's record
    CUevent e;
    OK(cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));
    OK(cuMemsetD32Async(a, 99, n, blocking));
    OK(cuEventRecord(e, blocking));
    OK(cuMemsetD32Async(a, 100, n, blocking));   // after the record: nb must not wait for it
    OK(cuStreamWaitEvent(nb, e, 0));
    OK(launch(copy, 2, 128, nb, {&a, &b, (void*) &n}));
    OK(cuMemcpyDtoHAsync_v2(pinned, b, n * 4, nb));
    OK(cuStreamSynchronize(nb));
    CHECK(pinned[0] == 99, "waited for the record, not more nor less: %d", pinned[0]);
    OK(cuCtxSynchronize());
    // an event query says "not ready" once before it completes the work
    OK(cuMemsetD32Async(a, 5, n, nb));
    OK(cuEventRecord(e, nb));
    CHECK(cuEventQuery(e) == CUDA_ERROR_NOT_READY, "first query");
    OK(cuEventQuery(e));
    OK(cuEventDestroy_v2(e));
    v0 = violations();
    CHECK(cuEventQuery(e) == CUDA_ERROR_INVALID_HANDLE, "destroyed event");
    CHECK(violations() == v0 + 1, "counted");

    // fibers: shared memory and __syncthreads
    std::vector<int> ones(n);
    for (int i = 0; i < n; i++) ones[i] = i % 7;
    OK(cuMemcpyHtoD_v2(a, ones.data(), n * 4));
    OK(cuCtxSynchronize());
    OK(launch(sum, 4, 256, nb, {&a, &b, (void*) &n}));
    OK(cuMemcpyDtoH_v2(pinned, b, 16));
    OK(cuStreamSynchronize(nb));
    OK(cuMemcpyDtoH_v2(pinned, b, 16));
    for (int blk = 0; blk < 4; blk++) {
        int expect = 0;
        for (int i = blk * 256; i < (blk + 1) * 256 && i < n; i++) expect += i % 7;
        CHECK(pinned[blk] == expect, "block %d sum %d, expected %d", blk, pinned[blk], expect);
    }

    // a huge length does not wrap around the range checks (a violation, not a crash)
    v0 = violations();
    CHECK(cuMemcpyDtoH_v2(pinned, a + 8, (size_t) -1) == CUDA_ERROR_INVALID_VALUE, "huge D2H length");
    CHECK(cuMemsetD32Async(a, 0, ((size_t) -1) / 2, nb) == CUDA_ERROR_INVALID_VALUE, "huge memset count");
    CHECK(violations() == v0 + 2, "counted");

    // polling two streams alternately completes both
    OK(cuMemsetD32Async(a, 1, n, nb));
    OK(cuMemsetD32Async(b, 2, n, blocking));
    int polls = 0;
    bool nb_done = false, blocking_done = false;
    while ((!nb_done || !blocking_done) && polls < 10) {
        nb_done = nb_done || cuStreamQuery(nb) == CUDA_SUCCESS;
        blocking_done = blocking_done || cuStreamQuery(blocking) == CUDA_SUCCESS;
        polls++;
    }
    CHECK(nb_done && blocking_done && polls > 1, "alternate polling: %d polls", polls);

    // shared memory does not carry a value from one block to the next
    CUfunction leak = function(test, "emu_test_shared_between_blocks");
    OK(launch(leak, 2, 1, nb, {&b}));
    OK(cuStreamSynchronize(nb));
    OK(cuMemcpyDtoH_v2(pinned, b, 8));
    CHECK(pinned[0] == 42 && pinned[1] != 42, "block 1 read block 0's shared value: %d %d", pinned[0], pinned[1]);

    // memory: OOM by the configured size (not a violation), fault injection, double free
    CUdeviceptr big;
    v0 = violations();
    CHECK(cuMemAlloc_v2(&big, 80u << 20) == CUDA_ERROR_OUT_OF_MEMORY, "over CUDA_EMU_MEMORY");
    size_t fr, tot;
    OK(cuMemGetInfo_v2(&fr, &tot));
    CHECK(tot == (64u << 20) && fr < tot, "free %zu total %zu", fr, tot);
    cudaEmuFail("cuMemAlloc", 2, 0);
    CUdeviceptr x, y, z;
    OK(cuMemAlloc_v2(&x, 8));
    CHECK(cuMemAlloc_v2(&y, 8) == CUDA_ERROR_OUT_OF_MEMORY, "injected failure");
    OK(cuMemAlloc_v2(&z, 8));
    CHECK(violations() == v0, "OOM and injected failures are not violations");
    OK(cuMemFree_v2(x));
    CHECK(cuMemFree_v2(x) == CUDA_ERROR_INVALID_VALUE, "double free");
    CHECK(cuMemFree_v2(z + 4) == CUDA_ERROR_INVALID_VALUE, "free inside an allocation");
    CHECK(violations() == v0 + 2, "counted");
    OK(cuMemFree_v2(z));

    // handles of another context
    OK(cuCtxSetCurrent(c1));
    v0 = violations();
    CHECK(launch(copy, 1, 32, nullptr, {&a, &b, (void*) &n}) == CUDA_ERROR_INVALID_HANDLE, "function of another context");
    CHECK(cuStreamSynchronize(nb) == CUDA_ERROR_INVALID_HANDLE, "stream of another context");
    CHECK(violations() == v0 + 2, "counted");

    // peer access: device 1 reading device 0's memory
    CUmodule test1;
    OK(cuModuleLoadData(&test1, fat.data()));
    CUfunction copy1 = function(test1, "emu_test_copy");
    CUdeviceptr b1;
    OK(cuMemAlloc_v2(&b1, n * 4));
    OK(cuCtxEnablePeerAccess(c0, 0));
    OK(launch(copy1, 2, 128, nullptr, {&a, &b1, (void*) &n}));
    OK(cuCtxSynchronize());
    OK(cuCtxDisablePeerAccess(c0));
    v0 = violations();
    OK(launch(copy1, 2, 128, nullptr, {&a, &b1, (void*) &n}));
    CHECK(cuCtxSynchronize() == CUDA_ERROR_ILLEGAL_ADDRESS, "kernel read another device's memory without peer access");
    CHECK(violations() == v0 + 1, "counted");
    CHECK(cuMemAlloc_v2(&x, 8) == CUDA_ERROR_ILLEGAL_ADDRESS, "the error is sticky, as on a GPU");
    OK(cuDevicePrimaryCtxReset_v2(1));   // frees b1, test1 (counted as leaked at destroy)
    long long destroyed = counter(6);
    CHECK(destroyed == 1, "reset destroyed 1 owned resource, counted %lld", destroyed);
    v0 = violations();
    CHECK(cuDevicePrimaryCtxRelease_v2(1) == CUDA_ERROR_INVALID_CONTEXT, "a reset context holds no references");
    CHECK(violations() == v0 + 1, "counted");

    // kernels that break the rules on device 0
    OK(cuCtxSetCurrent(c0));
    CUfunction off = function(test, "emu_test_off_by_one");
    CUfunction mis = function(test, "emu_test_misaligned");
    CUfunction undeclared = function(test, "emu_test_undeclared_sync");
    CUfunction partial = function(test, "emu_test_partial_barrier");
    v0 = violations();
    OK(launch(partial, 1, 64, nb, {&a}));
    CHECK(cuStreamSynchronize(nb) == CUDA_ERROR_LAUNCH_FAILED, "a barrier only half the block reaches");
    CHECK(violations() == v0 + 1, "counted");
    OK(cuDevicePrimaryCtxReset_v2(0));
    OK(cuDevicePrimaryCtxRetain(&c0, 0));
    OK(cuCtxSetCurrent(c0));
    OK(cuModuleLoadData(&test, fat.data()));
    undeclared = function(test, "emu_test_undeclared_sync");
    OK(cuMemAlloc_v2(&a, n * 4));
    OK(cuStreamCreate(&nb, CU_STREAM_NON_BLOCKING));
    v0 = violations();
    OK(launch(undeclared, 1, 32, nb, {&a}));
    CHECK(cuStreamSynchronize(nb) == CUDA_ERROR_LAUNCH_FAILED, "__syncthreads in a kernel not declared EMU_KERNEL_SYNC");
    OK(cuDevicePrimaryCtxReset_v2(0));
    OK(cuDevicePrimaryCtxRetain(&c0, 0));
    OK(cuCtxSetCurrent(c0));
    OK(cuModuleLoadData(&test, fat.data()));
    off = function(test, "emu_test_off_by_one");
    mis = function(test, "emu_test_misaligned");
    OK(cuMemAlloc_v2(&a, n * 4));
    OK(launch(mis, 1, 1, nullptr, {&a}));
    CHECK(cuCtxSynchronize() == CUDA_ERROR_MISALIGNED_ADDRESS, "misaligned int store");
    OK(cuDevicePrimaryCtxReset_v2(0));
    OK(cuDevicePrimaryCtxRetain(&c0, 0));
    OK(cuCtxSetCurrent(c0));
    OK(cuModuleLoadData(&test, fat.data()));
    off = function(test, "emu_test_off_by_one");
    OK(cuMemAlloc_v2(&a, n * 4));
    OK(launch(off, 1, 1, nullptr, {&a, (void*) &n}));
    CHECK(cuCtxSynchronize() == CUDA_ERROR_ILLEGAL_ADDRESS, "write one element past the end");
    CHECK(violations() == v0 + 3, "three kernel violations counted, got %lld", violations() - v0);
    OK(cuDevicePrimaryCtxReset_v2(0));

    // a released context cannot be used
    v0 = violations();
    CHECK(cuMemAlloc_v2(&x, 8) == CUDA_ERROR_CONTEXT_IS_DESTROYED, "current context was reset");
    CHECK(violations() == v0 + 1, "counted");
    OK(cuCtxSetCurrent(nullptr));

    leak_report_in_child();

    printf("emu_selftest: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
