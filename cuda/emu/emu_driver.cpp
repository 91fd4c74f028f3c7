// emu_driver.cpp: a CPU implementation of the CUDA driver API subset that JCuda's driver JNI library and
// cubatch's cuda backend call, built as libcuda.so.1 (target/cuda-emu). A JVM started with
// LD_LIBRARY_PATH=target/cuda-emu runs cubatch's Java code, JCuda's JNI code and cubatch's kernels
// (emu_kernels.cpp, compiled from ../cb_kernels.cu) unmodified. See README.md beside this file for what
// is emulated, what is not, and the environment variables.
//
// Three properties, each there to make a bug in the caller fail a test instead of passing by luck:
// - strict: every call checks its context, handles, device ranges, pinned host ranges and frees; every
//   kernel load and store is checked against the live allocations (cuda_emu_check). A violation returns
//   the error the real driver would return, is counted and printed, and a kernel's bad access makes the
//   context's error sticky, as on a GPU. At exit one line reports violations and leaks.
// - lazy: async work (copies, memsets, launches, event records) is queued per stream and runs only when
//   the program is obliged to observe it (stream/event/context synchronisation, a blocking call, a query
//   that reports completion), so a missing synchronisation reads stale bytes.
// - configurable: CUDA_EMU_DEVICES, CUDA_EMU_MEMORY, CUDA_EMU_FAIL, CUDA_EMU_REPORT.
#include <link.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "cuda_emu_api.h"
#include "emu_dim.h"
#include "emu_kernels.h"

#define EXPORT extern "C" __attribute__((visibility("default")))

namespace {

using cuda_emu::KernelEntry;

constexpr size_t kAllocAlign = 256;            // cuMemAlloc's guaranteed alignment
constexpr size_t kPoisonBytes = 64u << 20;     // new device memory reads 0xCB up to this many bytes
constexpr int kMaxPrinted = 20;                // violation messages printed before going quiet
constexpr size_t kFiberStack = 256u << 10;

struct Ctx;
struct Stream;

struct Op {
    uint64_t seq = 0;
    std::vector<std::pair<Stream*, uint64_t>> deps;   // work of other streams that must run first
    std::function<void()> run;
};

struct Stream {
    uint64_t handle = 0;
    Ctx* ctx = nullptr;
    unsigned flags = 0;
    bool legacy = false;
    bool destroyed = false;
    uint64_t last_seq = 0;   // seq of the last op enqueued
    uint64_t done_seq = 0;   // seq of the last op run
    uint64_t not_ready_for = 0;   // cuStreamQuery answered "not ready" for the work up to this seq
    std::deque<std::unique_ptr<Op>> queue;
    bool pending() const { return !queue.empty(); }
};

struct Event {
    uint64_t handle = 0;
    Ctx* ctx = nullptr;
    unsigned flags = 0;
    Stream* stream = nullptr;   // of the latest record; nullptr: never recorded
    uint64_t seq = 0;
    double time_ms = 0;         // host clock when the record ran
    bool ran = false;
    int not_ready_answers = 0;  // cuEventQuery says "not ready" once per record before running it
};

struct Alloc {
    uintptr_t base = 0;
    size_t size = 0;        // as asked
    size_t accounted = 0;   // counted against the device's memory
    void* map = nullptr;
    size_t map_len = 0;
    Ctx* ctx = nullptr;
};

struct HostBlock {
    uintptr_t base = 0;
    size_t size = 0;
    bool registered = false;   // cuMemHostRegister (else cuMemHostAlloc, owned here)
    void* map = nullptr;
    size_t map_len = 0;
    Ctx* ctx = nullptr;
};

struct Module;
struct Function {
    uint64_t handle = 0;
    Module* module = nullptr;
    const KernelEntry* kernel = nullptr;
};

struct Module {
    uint64_t handle = 0;
    Ctx* ctx = nullptr;
    std::vector<std::unique_ptr<Function>> functions;
};

struct Ctx {
    uint64_t handle = 0;
    int device = 0;
    int refs = 0;
    bool active = false;
    int sticky = 0;                    // an error that poisons the context (a kernel's bad access)
    std::vector<Stream*> streams;      // every stream ever made in this activation, legacy first
    std::set<int> peers;               // devices whose memory this context may access
};

struct Device {
    int ordinal = 0;
    size_t total = 0;
    size_t used = 0;
    Ctx primary;
};

// ---- global state, guarded by g_mu (every API call holds it; async work runs under it) ----

// Every container lives on the heap and is never destroyed: a library loaded with dlopen (as JCuda and
// java.lang.foreign load this one) has its globals destroyed before its destructor functions run, and the
// exit report (and any JVM thread still calling in during exit) must see them intact.
template <typename T>
T& forever() {
    return *new T();
}
std::recursive_mutex& g_mu = forever<std::recursive_mutex>();
bool g_initialized = false;       // cuInit called
bool g_configured = false;        // environment read
bool g_trace = false;             // CUDA_EMU_TRACE=1: every call and allocation on stderr
std::vector<std::unique_ptr<Device>>& g_devices = forever<std::vector<std::unique_ptr<Device>>>();
std::map<uintptr_t, Alloc>& g_allocs = forever<std::map<uintptr_t, Alloc>>();         // by base
std::map<uintptr_t, HostBlock>& g_host = forever<std::map<uintptr_t, HostBlock>>();   // by base
std::unordered_map<uint64_t, Stream*>& g_streams = forever<std::unordered_map<uint64_t, Stream*>>();
std::unordered_map<uint64_t, std::unique_ptr<Event>>& g_events =
    forever<std::unordered_map<uint64_t, std::unique_ptr<Event>>>();
std::unordered_map<uint64_t, std::unique_ptr<Module>>& g_modules =
    forever<std::unordered_map<uint64_t, std::unique_ptr<Module>>>();
std::unordered_map<uint64_t, Function*>& g_functions = forever<std::unordered_map<uint64_t, Function*>>();
// never freed: ops of other streams may name them
std::vector<std::unique_ptr<Stream>>& g_all_streams = forever<std::vector<std::unique_ptr<Stream>>>();
std::vector<const KernelEntry*>& g_kernel_tables = forever<std::vector<const KernelEntry*>>();
// The loaded images (ELF segments) the kernels were compiled into: their constant data (switch tables,
// literals) is what __constant__ memory is on a GPU, so kernels may read it.
std::vector<std::pair<uintptr_t, uintptr_t>>& g_kernel_images = forever<std::vector<std::pair<uintptr_t, uintptr_t>>>();
// The kernels' __shared__ variables (cuda_shim.h): read and written by the running block.
std::vector<std::pair<uintptr_t, uintptr_t>>& g_shared = forever<std::vector<std::pair<uintptr_t, uintptr_t>>>();

void add_image_of(const void* symbol) {
    struct Find {
        uintptr_t at;
        std::vector<std::pair<uintptr_t, uintptr_t>>* out;
    } find{(uintptr_t) symbol, &g_kernel_images};
    dl_iterate_phdr([](dl_phdr_info* info, size_t, void* data) -> int {
        Find* f = static_cast<Find*>(data);
        uintptr_t lo = UINTPTR_MAX, hi = 0;
        for (int i = 0; i < info->dlpi_phnum; i++) {
            const ElfW(Phdr)& ph = info->dlpi_phdr[i];
            if (ph.p_type != PT_LOAD) continue;
            lo = std::min<uintptr_t>(lo, info->dlpi_addr + ph.p_vaddr);
            hi = std::max<uintptr_t>(hi, info->dlpi_addr + ph.p_vaddr + ph.p_memsz);
        }
        if (f->at < lo || f->at >= hi) return 0;
        for (int i = 0; i < info->dlpi_phnum; i++) {   // the read-only segments: code and constant data
            const ElfW(Phdr)& ph = info->dlpi_phdr[i];
            if (ph.p_type == PT_LOAD && !(ph.p_flags & PF_W)) {
                f->out->push_back({info->dlpi_addr + ph.p_vaddr, info->dlpi_addr + ph.p_vaddr + ph.p_memsz});
            }
        }
        return 1;
    }, &find);
}
uint64_t g_next_handle = 0x1000;

struct Counters {
    long long violations = 0, context_creations = 0, launches = 0, h2d = 0, d2h = 0;
    long long destroyed_allocs = 0, destroyed_streams = 0, destroyed_events = 0;   // owned by a context at its end
} g_count;

struct Failure {
    long long n = 0;     // fail the n-th call from the counter's zero
    long long seen = 0;
    int code = 0;
};
std::map<std::string, Failure>& g_fail = forever<std::map<std::string, Failure>>();

thread_local Ctx* t_ctx = nullptr;

uint64_t new_handle() { return g_next_handle += 16; }


// Counts a violation, prints it (the first kMaxPrinted), and returns `code` for the caller to return.
CUresult violation(CUresult code, const char* call, const char* fmt, ...) {
    g_count.violations++;
    if (g_count.violations <= kMaxPrinted) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        fprintf(stderr, "cuda-emu: violation in %s: %s (returns %d)\n", call, msg, code);
        if (g_count.violations == kMaxPrinted) {
            fprintf(stderr, "cuda-emu: further violations are counted, not printed\n");
        }
        fflush(stderr);
    }
    return code;
}

size_t env_size(const char* name, size_t fallback) {
    const char* v = getenv(name);
    if (!v || !*v) return fallback;
    char* end = nullptr;
    unsigned long long n = strtoull(v, &end, 10);
    if (end && (*end == 'k' || *end == 'K')) n <<= 10, end++;
    else if (end && (*end == 'm' || *end == 'M')) n <<= 20, end++;
    else if (end && (*end == 'g' || *end == 'G')) n <<= 30, end++;
    if (!end || *end || n == 0) {
        fprintf(stderr, "cuda-emu: %s=%s is not a positive number (bytes, or with K, M, G); using %zu\n", name, v,
                fallback);
        return fallback;
    }
    return (size_t) n;
}

std::string base_name(const char* call) {
    std::string s(call);
    for (const char* suffix : {"_v2", "_v3"}) {
        size_t n = strlen(suffix);
        if (s.size() > n && s.compare(s.size() - n, n, suffix) == 0) s.resize(s.size() - n);
    }
    return s;
}

int default_failure(const std::string& call) {
    return call.find("Alloc") != std::string::npos || call == "cuMemHostRegister" ? CUDA_ERROR_OUT_OF_MEMORY
                                                                                     : CUDA_ERROR_UNKNOWN;
}

void configure() {
    if (g_configured) return;
    g_configured = true;
    size_t devices = env_size("CUDA_EMU_DEVICES", 1);
    if (devices > 16) devices = 16;
    size_t memory = env_size("CUDA_EMU_MEMORY", (size_t) 1 << 30);
    for (size_t i = 0; i < devices; i++) {
        auto d = std::make_unique<Device>();
        d->ordinal = (int) i;
        d->total = memory;
        d->primary.device = (int) i;
        d->primary.handle = new_handle();
        g_devices.push_back(std::move(d));
    }
    g_kernel_tables.push_back(cuda_emu::kernels());
    add_image_of((const void*) cuda_emu::kernels());
    const void* shared_lo;
    const void* shared_hi;
    cuda_emu::shared_bounds(&shared_lo, &shared_hi);
    if (shared_lo && shared_hi > shared_lo) g_shared.push_back({(uintptr_t) shared_lo, (uintptr_t) shared_hi});
    const char* trace = getenv("CUDA_EMU_TRACE");
    g_trace = trace && strcmp(trace, "1") == 0;
    if (const char* f = getenv("CUDA_EMU_FAIL")) {
        std::string spec(f);
        size_t at = 0;
        while (at < spec.size()) {
            size_t end = spec.find(',', at);
            std::string item = spec.substr(at, end == std::string::npos ? std::string::npos : end - at);
            at = end == std::string::npos ? spec.size() : end + 1;
            size_t c1 = item.find(':');
            if (c1 == std::string::npos) {
                fprintf(stderr, "cuda-emu: CUDA_EMU_FAIL item '%s' is not call:n[:code]; ignored\n", item.c_str());
                continue;
            }
            std::string call = base_name(item.substr(0, c1).c_str());
            size_t c2 = item.find(':', c1 + 1);
            long long n = atoll(item.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1).c_str());
            int code = c2 == std::string::npos ? default_failure(call) : atoi(item.substr(c2 + 1).c_str());
            if (n > 0) g_fail[call] = Failure{n, 0, code};
        }
    }
}

// Fault injection: 0, or the code this call must fail with.
int injected(const char* call) {
    if (g_fail.empty()) return 0;
    auto it = g_fail.find(base_name(call));
    if (it == g_fail.end()) return 0;
    Failure& f = it->second;
    if (++f.seen == f.n) {
        int code = f.code;
        g_fail.erase(it);
        return code;
    }
    return 0;
}

#define API(name)                                      \
    std::lock_guard<std::recursive_mutex> lock_(g_mu); \
    configure();                                       \
    static const char* const api_ = name;              \
    if (g_trace) fprintf(stderr, "cuda-emu: trace: %s\n", api_); \
    if (int f_ = injected(api_)) return f_;

#define NEED_INIT()                                                                   \
    if (!g_initialized) return violation(CUDA_ERROR_NOT_INITIALIZED, api_, "cuInit has not been called");

double now_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// ---- contexts ----

// The current context, checked; sets *err (and counts a violation) when there is none usable.
Ctx* current(const char* call, CUresult* err) {
    *err = CUDA_SUCCESS;
    if (!g_initialized) {
        *err = violation(CUDA_ERROR_NOT_INITIALIZED, call, "cuInit has not been called");
        return nullptr;
    }
    Ctx* c = t_ctx;
    if (!c) {
        *err = violation(CUDA_ERROR_INVALID_CONTEXT, call, "no current context on this thread (cuCtxSetCurrent)");
        return nullptr;
    }
    if (!c->active) {
        *err = violation(CUDA_ERROR_CONTEXT_IS_DESTROYED, call,
                         "the current context (device %d's primary context) was released or reset", c->device);
        return nullptr;
    }
    if (c->sticky) {
        *err = c->sticky;
        return nullptr;
    }
    return c;
}

#define CURRENT()                   \
    CUresult err_;                  \
    Ctx* ctx = current(api_, &err_); \
    if (!ctx) return err_;

Stream* make_stream(Ctx* c, unsigned flags, bool legacy) {
    auto s = std::make_unique<Stream>();
    s->handle = legacy ? 0 : new_handle();
    s->ctx = c;
    s->flags = flags;
    s->legacy = legacy;
    Stream* p = s.get();
    g_all_streams.push_back(std::move(s));
    c->streams.push_back(p);
    if (!legacy) g_streams[p->handle] = p;
    return p;
}

// ---- the lazy engine ----

void flush(Stream* s, uint64_t upto);

void run_op(Stream* s, std::unique_ptr<Op> op) {
    for (auto& d : op->deps) flush(d.first, d.second);
    op->run();
    s->done_seq = op->seq;
}

// Runs the work of `s` up to and including op `upto` (and what that work waits for).
void flush(Stream* s, uint64_t upto) {
    while (!s->queue.empty() && s->queue.front()->seq <= upto) {
        std::unique_ptr<Op> op = std::move(s->queue.front());
        s->queue.pop_front();
        run_op(s, std::move(op));
    }
}

void flush_context(Ctx* c) {
    for (size_t i = 0; i < c->streams.size(); i++) flush(c->streams[i], UINT64_MAX);
}

// Before memory is freed: work queued in any context (a peer copy, a portable pinned block) may still use it.
void flush_all() {
    for (auto& d : g_devices) {
        if (d->primary.active) flush_context(&d->primary);
    }
}

// Enqueues `run` on `s` with the legacy default stream's ordering rules: work on the legacy stream waits
// for all earlier work of the context's blocking streams, and work on a blocking stream waits for earlier
// legacy-stream work; CU_STREAM_NON_BLOCKING streams order with neither. Returns the op's seq.
uint64_t enqueue(Stream* s, std::function<void()> run, std::vector<std::pair<Stream*, uint64_t>> deps = {}) {
    auto op = std::make_unique<Op>();
    op->seq = ++s->last_seq;
    op->deps = std::move(deps);
    if (s->legacy) {
        for (Stream* b : s->ctx->streams) {
            if (b != s && !(b->flags & CU_STREAM_NON_BLOCKING) && b->pending()) op->deps.push_back({b, b->last_seq});
        }
    } else if (!(s->flags & CU_STREAM_NON_BLOCKING)) {
        Stream* l = s->ctx->streams.front();
        if (l->pending()) op->deps.push_back({l, l->last_seq});
    }
    op->run = std::move(run);
    uint64_t seq = op->seq;
    s->queue.push_back(std::move(op));
    return seq;
}

// The stream a call names, in the current context: 0 and CU_STREAM_LEGACY are its legacy default stream.
Stream* resolve_stream(Ctx* c, CUstream h, const char* call, CUresult* err) {
    *err = CUDA_SUCCESS;
    uint64_t id = (uint64_t) (uintptr_t) h;
    if (id == 0 || h == CU_STREAM_LEGACY) return c->streams.front();
    if (h == CU_STREAM_PER_THREAD) {
        *err = violation(CUDA_ERROR_NOT_SUPPORTED, call, "the per-thread default stream is not emulated");
        return nullptr;
    }
    auto it = g_streams.find(id);
    if (it == g_streams.end()) {
        *err = violation(CUDA_ERROR_INVALID_HANDLE, call, "stream %#llx is not a live stream (destroyed, or never made)",
                         (unsigned long long) id);
        return nullptr;
    }
    if (it->second->ctx != c) {
        *err = violation(CUDA_ERROR_INVALID_HANDLE, call, "stream %#llx belongs to device %d's context, not the current"
                         " one (device %d)", (unsigned long long) id, it->second->ctx->device, c->device);
        return nullptr;
    }
    return it->second;
}

#define STREAM(h)                                   \
    Stream* stream = resolve_stream(ctx, h, api_, &err_); \
    if (!stream) return err_;

// ---- memory ranges ----

// [a, a + n) lies inside [lo, hi), without overflowing a + n.
inline bool inside(uintptr_t a, size_t n, uintptr_t lo, uintptr_t hi) {
    return a >= lo && a <= hi && n <= hi - a;
}

const Alloc* find_alloc(uintptr_t a) {
    auto it = g_allocs.upper_bound(a);
    if (it == g_allocs.begin()) return nullptr;
    --it;
    return a < it->second.base + std::max<size_t>(it->second.size, 1) ? &it->second : nullptr;
}

// [p, p + n) lies in one live allocation that context c may access (its own device's, or a peer's with
// access enabled). Counts a violation otherwise.
CUresult check_device_range(Ctx* c, CUdeviceptr p, size_t n, const char* call, const char* what) {
    const Alloc* a = find_alloc((uintptr_t) p);
    if (!a) {
        return violation(CUDA_ERROR_INVALID_VALUE, call, "%s %#llx is not inside any live device allocation", what,
                         (unsigned long long) p);
    }
    if (!inside((uintptr_t) p, n, a->base, a->base + a->size)) {
        return violation(CUDA_ERROR_INVALID_VALUE, call, "%s [%#llx, +%zu) runs past the end of its allocation of %zu"
                         " bytes at %#llx", what, (unsigned long long) p, n, a->size, (unsigned long long) a->base);
    }
    if (a->ctx->device != c->device && !c->peers.count(a->ctx->device)) {
        return violation(CUDA_ERROR_INVALID_VALUE, call, "%s %#llx is memory of device %d; the current context (device %d)"
                         " has no peer access to it (cuCtxEnablePeerAccess)", what, (unsigned long long) p,
                         a->ctx->device, c->device);
    }
    return CUDA_SUCCESS;
}

const HostBlock* find_host(uintptr_t a) {
    auto it = g_host.upper_bound(a);
    if (it == g_host.begin()) return nullptr;
    --it;
    return a < it->second.base + it->second.size ? &it->second : nullptr;
}

// A host range given to a copy: never device memory; for async copies pinned, and then inside its block.
CUresult check_host_range(const void* p, size_t n, bool async, const char* call, const char* what) {
    if (n == 0) return CUDA_SUCCESS;
    if (!p) return violation(CUDA_ERROR_INVALID_VALUE, call, "%s is NULL", what);
    if (find_alloc((uintptr_t) p)) {
        return violation(CUDA_ERROR_INVALID_VALUE, call, "%s %p is device memory, not host memory", what, p);
    }
    const HostBlock* h = find_host((uintptr_t) p);
    if (h && !inside((uintptr_t) p, n, h->base, h->base + h->size)) {
        return violation(CUDA_ERROR_INVALID_VALUE, call, "%s [%p, +%zu) runs past the end of its pinned block of %zu bytes",
                         what, p, n, h->size);
    }
    if (async && !h) {
        return violation(CUDA_ERROR_INVALID_VALUE, call, "%s %p is pageable memory: an async copy needs pinned memory"
                         " (cuMemHostAlloc or cuMemHostRegister), or it is neither async nor safe to reuse", what, p);
    }
    return CUDA_SUCCESS;
}

void* map_bytes(size_t len) {
    void* m = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return m == MAP_FAILED ? nullptr : m;
}

// Frees a device allocation (its bytes and its accounting).
void release_alloc(std::map<uintptr_t, Alloc>::iterator it) {
    Device& d = *g_devices[it->second.ctx->device];
    d.used -= it->second.accounted;
    munmap(it->second.map, it->second.map_len);
    g_allocs.erase(it);
}

void release_host(std::map<uintptr_t, HostBlock>::iterator it) {
    if (!it->second.registered) munmap(it->second.map, it->second.map_len);
    g_host.erase(it);
}

// A primary context's last release (or a reset): its work runs, then whatever it still owns is destroyed,
// as the driver does, and counted as leaked (the program should have freed it).
void deactivate(Ctx* c, const char* call) {
    flush_all();
    long long allocs = 0, hosts = 0, streams = 0, events = 0, modules = 0;
    for (auto it = g_allocs.begin(); it != g_allocs.end();) {
        if (it->second.ctx == c) { release_alloc(it++); allocs++; } else { ++it; }
    }
    for (auto it = g_host.begin(); it != g_host.end();) {
        if (it->second.ctx == c) { release_host(it++); hosts++; } else { ++it; }
    }
    for (auto it = g_streams.begin(); it != g_streams.end();) {
        if (it->second->ctx == c) { it->second->destroyed = true; it = g_streams.erase(it); streams++; } else { ++it; }
    }
    for (auto it = g_events.begin(); it != g_events.end();) {
        if (it->second->ctx == c) { it = g_events.erase(it); events++; } else { ++it; }
    }
    for (auto it = g_modules.begin(); it != g_modules.end();) {
        if (it->second->ctx == c) {
            for (auto& f : it->second->functions) g_functions.erase(f->handle);
            it = g_modules.erase(it);
            modules++;
        } else {
            ++it;
        }
    }
    g_count.destroyed_allocs += allocs + hosts;
    g_count.destroyed_streams += streams;
    g_count.destroyed_events += events;
    if (allocs + hosts + streams + events) {
        fprintf(stderr, "cuda-emu: %s destroyed device %d's primary context while it still owned %lld device allocations,"
                " %lld pinned host blocks, %lld streams, %lld events (freed now, counted as leaks)\n", call, c->device,
                allocs, hosts, streams, events);
    }
    (void) modules;   // a module left loaded is not a leak the report names: it is unloaded with the context
    c->active = false;
    c->refs = 0;
    c->sticky = 0;
    c->streams.clear();
    c->peers.clear();
    for (auto& d : g_devices) d->primary.peers.erase(c->device);
}

// ---- kernel execution ----

struct Launch {
    const KernelEntry* kernel = nullptr;
    Ctx* ctx = nullptr;
    uintptr_t stack_lo = 0, stack_hi = 0;
    uintptr_t params_lo = 0, params_hi = 0;
    uintptr_t hit_lo = 0, hit_hi = 0;     // the allocation the last access fell in
    uint3 grid{}, block{}, block_idx{}, thread_idx{};
    jmp_buf abort_to;
    bool fibers = false;
    bool aborted = false;
    ucontext_t scheduler;
    int fault = 0;
    // fiber mode
    struct Fiber {
        ucontext_t uc;
        std::unique_ptr<char[]> stack;
        uint3 idx;
        bool done = false;
        bool at_barrier = false;
    };
    std::vector<Fiber>* fibers_of_block = nullptr;
    Fiber* running = nullptr;
};

thread_local Launch* t_launch = nullptr;

void thread_stack(uintptr_t* lo, uintptr_t* hi) {
    static thread_local uintptr_t cached_lo = 0, cached_hi = 0;
    if (!cached_hi) {
        pthread_attr_t attr;
        void* addr = nullptr;
        size_t size = 0;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            pthread_attr_getstack(&attr, &addr, &size);
            pthread_attr_destroy(&attr);
        }
        cached_lo = (uintptr_t) addr;
        cached_hi = (uintptr_t) addr + size;
    }
    *lo = cached_lo;
    *hi = cached_hi;
}

[[noreturn]] void abort_launch(Launch* L, int code) {
    L->fault = code;
    L->aborted = true;
    if (L->fibers) {
        setcontext(&L->scheduler);
    }
    longjmp(L->abort_to, 1);
}

void access_violation(Launch* L, uintptr_t a, size_t n, int write, int code, const char* why) {
    violation(code, "cuLaunchKernel", "kernel %s (block %u,%u,%u thread %u,%u,%u) %s %zu bytes at %#llx: %s",
              L->kernel->name, L->block_idx.x, L->block_idx.y, L->block_idx.z, L->thread_idx.x, L->thread_idx.y,
              L->thread_idx.z, write ? "writes" : "reads", n, (unsigned long long) a, why);
    if (g_trace) {
        fprintf(stderr, "cuda-emu: trace: kernel stack [%#lx, %#lx), parameters [%#lx, %#lx)\n", (unsigned long) L->stack_lo,
                (unsigned long) L->stack_hi, (unsigned long) L->params_lo, (unsigned long) L->params_hi);
    }
    abort_launch(L, code);
}

void check_access(const volatile void* p, size_t n, int write, bool sized) {
    Launch* L = t_launch;
    if (!L || n == 0) return;
    uintptr_t a = (uintptr_t) p;
    if (inside(a, n, L->stack_lo, L->stack_hi)) return;
    if (inside(a, n, L->params_lo, L->params_hi)) return;
    for (auto& sh : g_shared) {
        if (inside(a, n, sh.first, sh.second)) return;
    }
    for (auto& img : g_kernel_images) {
        if (!write && inside(a, n, img.first, img.second)) return;   // code and constant data
    }
    if (!inside(a, n, L->hit_lo, L->hit_hi)) {
        const Alloc* al = find_alloc(a);
        if (!al) access_violation(L, a, n, write, CUDA_ERROR_ILLEGAL_ADDRESS, "not inside any live device allocation");
        if (!inside(a, n, al->base, al->base + al->size)) {
            access_violation(L, a, n, write, CUDA_ERROR_ILLEGAL_ADDRESS, "runs past the end of its allocation");
        }
        if (al->ctx->device != L->ctx->device && !L->ctx->peers.count(al->ctx->device)) {
            access_violation(L, a, n, write, CUDA_ERROR_ILLEGAL_ADDRESS,
                             "memory of another device, without peer access");
        }
        L->hit_lo = al->base;
        L->hit_hi = al->base + al->size;
    }
    if (sized && (n == 2 || n == 4 || n == 8 || n == 16) && a % n != 0) {
        access_violation(L, a, n, write, CUDA_ERROR_MISALIGNED_ADDRESS, "misaligned for its size");
    }
}

void fiber_main(unsigned lo, unsigned hi) {
    Launch* L = t_launch;
    Launch::Fiber* f = reinterpret_cast<Launch::Fiber*>(((uintptr_t) hi << 32) | lo);
    (void) f;
    L->kernel->run(reinterpret_cast<void**>(L->params_lo));
    L->running->done = true;
    swapcontext(&L->running->uc, &L->scheduler);
}

void run_block_fibers(Launch* L) {
    unsigned n = L->block.x * L->block.y * L->block.z;
    std::vector<Launch::Fiber> fibers(n);
    L->fibers_of_block = &fibers;
    for (unsigned i = 0; i < n; i++) {
        Launch::Fiber& f = fibers[i];
        f.idx = uint3{i % L->block.x, (i / L->block.x) % L->block.y, i / (L->block.x * L->block.y)};
        f.stack.reset(new char[kFiberStack]);
        getcontext(&f.uc);
        f.uc.uc_stack.ss_sp = f.stack.get();
        f.uc.uc_stack.ss_size = kFiberStack;
        f.uc.uc_link = nullptr;
        uintptr_t fp = (uintptr_t) &f;
        makecontext(&f.uc, (void (*)()) fiber_main, 2, (unsigned) (fp & 0xffffffffu), (unsigned) (fp >> 32));
    }
    for (;;) {
        bool any = false;
        for (auto& f : fibers) {
            if (f.done) continue;
            any = true;
            f.at_barrier = false;
            L->running = &f;
            L->thread_idx = f.idx;
            L->stack_lo = (uintptr_t) f.stack.get();
            L->stack_hi = L->stack_lo + kFiberStack;
            L->hit_lo = L->hit_hi = 0;
            swapcontext(&L->scheduler, &f.uc);
            if (L->aborted) return;
        }
        if (!any) break;
        // a barrier that some threads of the block reached and others exited without: undefined on a GPU
        bool waiting = false, exited = false;
        for (auto& f : fibers) {
            waiting |= !f.done && f.at_barrier;
            exited |= f.done;
        }
        if (waiting && exited) {
            violation(CUDA_ERROR_LAUNCH_FAILED, "cuLaunchKernel", "kernel %s (block %u,%u,%u): __syncthreads reached by"
                      " only some threads of the block; the others exited", L->kernel->name, L->block_idx.x,
                      L->block_idx.y, L->block_idx.z);
            L->fault = CUDA_ERROR_LAUNCH_FAILED;
            L->aborted = true;
            return;
        }
    }
    L->fibers_of_block = nullptr;
}

// Runs a launch now (the lazy engine calls this when the launch's turn comes).
void execute_launch(Launch* L, uintptr_t params_lo, uintptr_t params_hi) {
    if (L->ctx->sticky) return;   // the context is broken: as on a GPU, later work does not run
    L->params_lo = params_lo;
    L->params_hi = params_hi;
    t_launch = L;
    uintptr_t frame = (uintptr_t) __builtin_frame_address(0);
    if (setjmp(L->abort_to) == 0) {
        for (unsigned bz = 0; bz < L->grid.z; bz++)
            for (unsigned by = 0; by < L->grid.y; by++)
                for (unsigned bx = 0; bx < L->grid.x; bx++) {
                    L->block_idx = uint3{bx, by, bz};
                    for (auto& sh : g_shared) memset((void*) sh.first, 0xCB, sh.second - sh.first);   // uninitialised
                    if (L->fibers) {
                        run_block_fibers(L);
                        if (L->aborted) longjmp(L->abort_to, 1);
                        continue;
                    }
                    // the kernel's frames lie below this one: the rest of the host thread's stack is not its
                    uintptr_t top;
                    thread_stack(&L->stack_lo, &top);
                    L->stack_hi = frame;
                    for (unsigned tz = 0; tz < L->block.z; tz++)
                        for (unsigned ty = 0; ty < L->block.y; ty++)
                            for (unsigned tx = 0; tx < L->block.x; tx++) {
                                L->thread_idx = uint3{tx, ty, tz};
                                L->kernel->run(reinterpret_cast<void**>(L->params_lo));
                            }
                }
    }
    t_launch = nullptr;
    if (L->aborted) {
        L->ctx->sticky = L->fault;   // as on a GPU: the context is unusable after an illegal access
    }
    g_count.launches++;
}

}  // namespace

// ---- the kernels' view of the launch (called from emu_kernels.cpp) ----

EXPORT uint3 cuda_emu_block_idx(void) { return t_launch ? t_launch->block_idx : uint3{}; }
EXPORT uint3 cuda_emu_thread_idx(void) { return t_launch ? t_launch->thread_idx : uint3{}; }
EXPORT uint3 cuda_emu_block_dim(void) { return t_launch ? t_launch->block : uint3{}; }
EXPORT uint3 cuda_emu_grid_dim(void) { return t_launch ? t_launch->grid : uint3{}; }

EXPORT void cuda_emu_syncthreads(void) {
    Launch* L = t_launch;
    if (!L) return;
    if (!L->fibers) {
        if (L->block.x * L->block.y * L->block.z == 1) return;
        violation(CUDA_ERROR_LAUNCH_FAILED, "cuLaunchKernel", "kernel %s calls __syncthreads but is declared with"
                  " EMU_KERNEL: declare it with EMU_KERNEL_SYNC in cuda/emu/emu_kernels.cpp", L->kernel->name);
        abort_launch(L, CUDA_ERROR_LAUNCH_FAILED);
    }
    L->running->at_barrier = true;
    swapcontext(&L->running->uc, &L->scheduler);
}

EXPORT void cuda_emu_check(const volatile void* p, size_t n, int write) { check_access(p, n, write, false); }
// The same check for a typed access of n bytes, which must also be aligned to n (kernels compiled outside
// this library, like the emulator's own test kernels, forward their hooks here).
EXPORT void cuda_emu_check_sized(const volatile void* p, size_t n, int write) { check_access(p, n, write, true); }

// Outline KASAN hooks (g++ -fsanitize=kernel-address --param asan-instrumentation-with-call-threshold=0).
#define EMU_HOOKS(n)                                                                                          \
    extern "C" __attribute__((visibility("hidden"))) void __asan_load##n##_noabort(void* p) { check_access(p, n, 0, true); } \
    extern "C" __attribute__((visibility("hidden"))) void __asan_store##n##_noabort(void* p) { check_access(p, n, 1, true); }
EMU_HOOKS(1)
EMU_HOOKS(2)
EMU_HOOKS(4)
EMU_HOOKS(8)
EMU_HOOKS(16)
extern "C" __attribute__((visibility("hidden"))) void __asan_loadN_noabort(void* p, size_t n) { check_access(p, n, 0, false); }
extern "C" __attribute__((visibility("hidden"))) void __asan_storeN_noabort(void* p, size_t n) { check_access(p, n, 1, false); }
extern "C" __attribute__((visibility("hidden"))) void __asan_before_dynamic_init(const char*) {}
extern "C" __attribute__((visibility("hidden"))) void __asan_after_dynamic_init(void) {}
extern "C" __attribute__((visibility("hidden"))) void __asan_handle_no_return(void) {}

EXPORT void cuda_emu_register_kernels(const KernelEntry* table) {
    std::lock_guard<std::recursive_mutex> lock(g_mu);
    configure();
    g_kernel_tables.push_back(table);
    add_image_of(table);
}

EXPORT void cuda_emu_register_shared(const void* lo, const void* hi) {
    std::lock_guard<std::recursive_mutex> lock(g_mu);
    configure();
    if (lo && hi > lo) g_shared.push_back({(uintptr_t) lo, (uintptr_t) hi});
}

// ---- initialisation, devices ----

EXPORT CUresult cuInit(unsigned int flags) {
    API("cuInit");
    if (flags != 0) return violation(CUDA_ERROR_INVALID_VALUE, api_, "flags must be 0, got %u", flags);
    g_initialized = true;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDriverGetVersion(int* version) {
    API("cuDriverGetVersion");
    if (!version) return violation(CUDA_ERROR_INVALID_VALUE, api_, "version is NULL");
    *version = 12060;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetCount(int* count) {
    API("cuDeviceGetCount");
    NEED_INIT();
    if (!count) return violation(CUDA_ERROR_INVALID_VALUE, api_, "count is NULL");
    *count = (int) g_devices.size();
    return CUDA_SUCCESS;
}

#define DEVICE(dev)                                                                                        \
    if ((dev) < 0 || (size_t) (dev) >= g_devices.size())                                                   \
        return violation(CUDA_ERROR_INVALID_DEVICE, api_, "device %d does not exist (%zu emulated)", (int) (dev), \
                         g_devices.size());

EXPORT CUresult cuDeviceGet(CUdevice* device, int ordinal) {
    API("cuDeviceGet");
    NEED_INIT();
    DEVICE(ordinal);
    if (!device) return violation(CUDA_ERROR_INVALID_VALUE, api_, "device is NULL");
    *device = ordinal;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetName(char* name, int len, CUdevice dev) {
    API("cuDeviceGetName");
    NEED_INIT();
    DEVICE(dev);
    if (!name || len <= 0) return violation(CUDA_ERROR_INVALID_VALUE, api_, "name buffer NULL or of length %d", len);
    snprintf(name, (size_t) len, "cuda-emu");
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
    API("cuDeviceTotalMem");
    NEED_INIT();
    DEVICE(dev);
    if (!bytes) return violation(CUDA_ERROR_INVALID_VALUE, api_, "bytes is NULL");
    *bytes = g_devices[dev]->total;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceGetAttribute(int* value, int attrib, CUdevice dev) {
    API("cuDeviceGetAttribute");
    NEED_INIT();
    DEVICE(dev);
    if (!value) return violation(CUDA_ERROR_INVALID_VALUE, api_, "value is NULL");
    switch (attrib) {
        case 1: *value = 1024; break;                    // max threads per block
        case 2: case 3: *value = 1024; break;            // max block dim x, y
        case 4: *value = 64; break;                      // max block dim z
        case 5: *value = 2147483647; break;              // max grid dim x
        case 6: case 7: *value = 65535; break;           // max grid dim y, z
        case 8: *value = 48 << 10; break;                // shared memory per block
        case 10: *value = 32; break;                     // warp size
        case 13: *value = 1000000; break;                // clock rate, kHz
        case 16: *value = 4; break;                      // multiprocessors
        case 18: *value = 0; break;                      // integrated
        case 19: *value = 1; break;                      // can map host memory
        case 31: *value = 1; break;                      // concurrent kernels
        case 33: *value = dev + 1; break;                // PCI bus id
        case 40: *value = 2; break;                      // async engines
        case 41: *value = 1; break;                      // unified addressing
        case 75: *value = 9; break;                      // compute capability major
        case 76: *value = 0; break;                      // minor
        default:
            return violation(CUDA_ERROR_NOT_SUPPORTED, api_, "attribute %d is not emulated (add it to emu_driver.cpp)",
                             attrib);
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDeviceCanAccessPeer(int* can, CUdevice dev, CUdevice peer) {
    API("cuDeviceCanAccessPeer");
    NEED_INIT();
    DEVICE(dev);
    DEVICE(peer);
    if (!can) return violation(CUDA_ERROR_INVALID_VALUE, api_, "can is NULL");
    *can = dev != peer;
    return CUDA_SUCCESS;
}

// ---- primary contexts ----

EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext* out, CUdevice dev) {
    API("cuDevicePrimaryCtxRetain");
    NEED_INIT();
    DEVICE(dev);
    if (!out) return violation(CUDA_ERROR_INVALID_VALUE, api_, "pctx is NULL");
    Ctx& c = g_devices[dev]->primary;
    if (!c.active) {
        c.active = true;
        c.sticky = 0;
        g_count.context_creations++;
        make_stream(&c, 0, true);   // the legacy default stream
    }
    c.refs++;
    *out = reinterpret_cast<CUcontext>(&c);
    return CUDA_SUCCESS;
}

Ctx* context_of_handle(CUcontext h) {
    for (auto& d : g_devices) {
        if (reinterpret_cast<CUcontext>(&d->primary) == h) return &d->primary;
    }
    return nullptr;
}

EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
    API("cuDevicePrimaryCtxRelease");
    NEED_INIT();
    DEVICE(dev);
    Ctx& c = g_devices[dev]->primary;
    if (!c.active || c.refs <= 0) {
        return violation(CUDA_ERROR_INVALID_CONTEXT, api_, "device %d's primary context is not retained (released more"
                         " often than retained)", dev);
    }
    if (--c.refs == 0) deactivate(&c, api_);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev) {
    API("cuDevicePrimaryCtxReset");
    NEED_INIT();
    DEVICE(dev);
    Ctx& c = g_devices[dev]->primary;
    if (c.active) deactivate(&c, api_);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int* flags, int* active) {
    API("cuDevicePrimaryCtxGetState");
    NEED_INIT();
    DEVICE(dev);
    if (!flags || !active) return violation(CUDA_ERROR_INVALID_VALUE, api_, "flags or active is NULL");
    *flags = 0;
    *active = g_devices[dev]->primary.active;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSetCurrent(CUcontext h) {
    API("cuCtxSetCurrent");
    NEED_INIT();
    if (!h) {
        t_ctx = nullptr;
        return CUDA_SUCCESS;
    }
    Ctx* c = context_of_handle(h);
    if (!c) return violation(CUDA_ERROR_INVALID_CONTEXT, api_, "%p is not a context", (void*) h);
    if (!c->active) {
        return violation(CUDA_ERROR_CONTEXT_IS_DESTROYED, api_, "device %d's primary context was released; retain it"
                         " again before making it current", c->device);
    }
    t_ctx = c;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetCurrent(CUcontext* out) {
    API("cuCtxGetCurrent");
    NEED_INIT();
    if (!out) return violation(CUDA_ERROR_INVALID_VALUE, api_, "pctx is NULL");
    *out = reinterpret_cast<CUcontext>(t_ctx);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxGetDevice(CUdevice* dev) {
    API("cuCtxGetDevice");
    CURRENT();
    if (!dev) return violation(CUDA_ERROR_INVALID_VALUE, api_, "device is NULL");
    *dev = ctx->device;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxSynchronize(void) {
    API("cuCtxSynchronize");
    CURRENT();
    flush_context(ctx);
    return ctx->sticky;
}

EXPORT CUresult cuCtxEnablePeerAccess(CUcontext peer, unsigned int flags) {
    API("cuCtxEnablePeerAccess");
    CURRENT();
    Ctx* p = context_of_handle(peer);
    if (!p || !p->active) return violation(CUDA_ERROR_INVALID_HANDLE, api_, "peer %p is not an active context", (void*) peer);
    if (flags) return violation(CUDA_ERROR_INVALID_VALUE, api_, "flags must be 0");
    if (p == ctx) return violation(CUDA_ERROR_INVALID_DEVICE, api_, "a context cannot be its own peer");
    if (ctx->peers.count(p->device)) return CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED;
    ctx->peers.insert(p->device);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuCtxDisablePeerAccess(CUcontext peer) {
    API("cuCtxDisablePeerAccess");
    CURRENT();
    Ctx* p = context_of_handle(peer);
    if (!p || !ctx->peers.count(p->device)) return CUDA_ERROR_PEER_ACCESS_NOT_ENABLED;
    flush_context(ctx);
    ctx->peers.erase(p->device);
    return CUDA_SUCCESS;
}

// ---- modules ----

// A CUDA fatbin as nvcc -fatbin writes it: magic 0xBA55ED50, version 1, header size, payload size.
static bool fatbin_bounds(const void* image, size_t* bytes) {
    const unsigned char* b = static_cast<const unsigned char*>(image);
    uint32_t magic;
    uint16_t version, header;
    uint64_t payload;
    memcpy(&magic, b, 4);
    memcpy(&version, b + 4, 2);
    memcpy(&header, b + 6, 2);
    memcpy(&payload, b + 8, 8);
    if (magic != 0xBA55ED50u || version != 1 || header < 16 || payload > ((uint64_t) 1 << 32)) return false;
    *bytes = header + payload;
    return true;
}

EXPORT CUresult cuModuleLoadData(CUmodule* out, const void* image) {
    API("cuModuleLoadData");
    CURRENT();
    if (!out || !image) return violation(CUDA_ERROR_INVALID_VALUE, api_, "module or image is NULL");
    size_t bytes = 0;
    if (!fatbin_bounds(image, &bytes)) {
        return violation(CUDA_ERROR_INVALID_IMAGE, api_, "the image is not a CUDA fatbin (magic 0xBA55ED50, version 1):"
                         " the emulator loads the fatbin nvcc -fatbin builds");
    }
    auto m = std::make_unique<Module>();
    m->handle = new_handle();
    m->ctx = ctx;
    const char* data = static_cast<const char*>(image);
    std::string img(data, bytes);
    for (const KernelEntry* table : g_kernel_tables) {
        for (const KernelEntry* k = table; k->name; k++) {
            std::string tag = std::string(".nv.info.") + k->name;
            if (img.find(tag + '\0') == std::string::npos) continue;   // exactly this name, not a longer one
            auto f = std::make_unique<Function>();
            f->handle = new_handle();
            f->module = m.get();
            f->kernel = k;
            m->functions.push_back(std::move(f));
        }
    }
    *out = reinterpret_cast<CUmodule>(m->handle);
    g_modules[m->handle] = std::move(m);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleUnload(CUmodule h) {
    API("cuModuleUnload");
    CURRENT();
    auto it = g_modules.find((uint64_t) (uintptr_t) h);
    if (it == g_modules.end()) return violation(CUDA_ERROR_INVALID_HANDLE, api_, "module %p is not loaded", (void*) h);
    if (it->second->ctx != ctx) {
        return violation(CUDA_ERROR_INVALID_CONTEXT, api_, "module %p was loaded in device %d's context, not the current"
                         " one (device %d)", (void*) h, it->second->ctx->device, ctx->device);
    }
    flush_context(ctx);
    for (auto& f : it->second->functions) g_functions.erase(f->handle);
    g_modules.erase(it);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuModuleGetFunction(CUfunction* out, CUmodule h, const char* name) {
    API("cuModuleGetFunction");
    CURRENT();
    if (!out || !name) return violation(CUDA_ERROR_INVALID_VALUE, api_, "function or name is NULL");
    auto it = g_modules.find((uint64_t) (uintptr_t) h);
    if (it == g_modules.end()) return violation(CUDA_ERROR_INVALID_HANDLE, api_, "module %p is not loaded", (void*) h);
    if (it->second->ctx != ctx) {
        return violation(CUDA_ERROR_INVALID_CONTEXT, api_, "module %p belongs to device %d's context, not the current one",
                         (void*) h, it->second->ctx->device);
    }
    for (auto& f : it->second->functions) {
        if (strcmp(f->kernel->name, name) == 0) {
            g_functions[f->handle] = f.get();
            *out = reinterpret_cast<CUfunction>(f->handle);
            return CUDA_SUCCESS;
        }
    }
    bool known = false;
    for (const KernelEntry* table : g_kernel_tables)
        for (const KernelEntry* k = table; k->name; k++) known |= strcmp(k->name, name) == 0;
    if (!known) {
        fprintf(stderr, "cuda-emu: cuModuleGetFunction: kernel '%s' is not in the emulator's table; if the fatbin has"
                " it, add EMU_KERNEL(%s) to cuda/emu/emu_kernels.cpp\n", name, name);
    }
    return CUDA_ERROR_NOT_FOUND;
}

// ---- device memory ----

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* out, size_t bytes) {
    API("cuMemAlloc");
    CURRENT();
    if (!out) return violation(CUDA_ERROR_INVALID_VALUE, api_, "dptr is NULL");
    if (bytes == 0) return violation(CUDA_ERROR_INVALID_VALUE, api_, "bytesize is 0");
    Device& d = *g_devices[ctx->device];
    size_t accounted = (bytes + 511) / 512 * 512;
    if (accounted > d.total - d.used) return CUDA_ERROR_OUT_OF_MEMORY;
    size_t page = 4096;
    size_t len = (bytes + kAllocAlign + page - 1) / page * page + page;   // a trailing gap before the next block
    void* m = map_bytes(len);
    if (!m) return CUDA_ERROR_OUT_OF_MEMORY;
    Alloc a;
    a.base = (uintptr_t) m;
    a.size = bytes;
    a.accounted = accounted;
    a.map = m;
    a.map_len = len;
    a.ctx = ctx;
    memset(m, 0xCB, std::min(bytes, kPoisonBytes));   // device memory is not zeroed: reading it unwritten shows
    d.used += accounted;
    g_allocs[a.base] = a;
    *out = (CUdeviceptr) a.base;
    if (g_trace) fprintf(stderr, "cuda-emu: trace: device %d allocation [%#llx, +%zu)\n", ctx->device,
                         (unsigned long long) a.base, bytes);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
    API("cuMemFree");
    CURRENT();
    if (p == 0) return CUDA_SUCCESS;
    auto it = g_allocs.find((uintptr_t) p);
    if (it == g_allocs.end()) {
        const Alloc* inside = find_alloc((uintptr_t) p);
        return violation(CUDA_ERROR_INVALID_VALUE, api_, inside ? "%#llx is inside an allocation, not its start"
                         : "%#llx is not a live allocation (freed twice, or never allocated)", (unsigned long long) p);
    }
    if (it->second.ctx->device != ctx->device) {
        return violation(CUDA_ERROR_INVALID_VALUE, api_, "%#llx was allocated on device %d; the current context is device"
                         " %d's", (unsigned long long) p, it->second.ctx->device, ctx->device);
    }
    flush_all();   // cuMemFree synchronises with the device (and work elsewhere may use the block)
    release_alloc(it);
    return ctx->sticky;
}

EXPORT CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total_bytes) {
    API("cuMemGetInfo");
    CURRENT();
    if (!free_bytes || !total_bytes) return violation(CUDA_ERROR_INVALID_VALUE, api_, "free or total is NULL");
    Device& d = *g_devices[ctx->device];
    *free_bytes = d.total - d.used;
    *total_bytes = d.total;
    return CUDA_SUCCESS;
}

// ---- pinned host memory ----

EXPORT CUresult cuMemHostAlloc(void** out, size_t bytes, unsigned int flags) {
    API("cuMemHostAlloc");
    CURRENT();
    if (!out) return violation(CUDA_ERROR_INVALID_VALUE, api_, "pp is NULL");
    if (bytes == 0) return violation(CUDA_ERROR_INVALID_VALUE, api_, "bytesize is 0");
    if (flags & ~7u) return violation(CUDA_ERROR_INVALID_VALUE, api_, "unknown flags %#x", flags);
    size_t len = (bytes + 4095) / 4096 * 4096;
    void* m = map_bytes(len);
    if (!m) return CUDA_ERROR_OUT_OF_MEMORY;
    HostBlock h;
    h.base = (uintptr_t) m;
    h.size = bytes;
    h.map = m;
    h.map_len = len;
    h.ctx = ctx;
    g_host[h.base] = h;
    *out = m;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAllocHost_v2(void** out, size_t bytes) { return cuMemHostAlloc(out, bytes, 0); }

EXPORT CUresult cuMemFreeHost(void* p) {
    API("cuMemFreeHost");
    CURRENT();
    auto it = g_host.find((uintptr_t) p);
    if (it == g_host.end() || it->second.registered) {
        return violation(CUDA_ERROR_INVALID_VALUE, api_, "%p is not a live cuMemHostAlloc block (freed twice, registered"
                         " rather than allocated, or never allocated)", p);
    }
    flush_all();
    release_host(it);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemHostRegister_v2(void* p, size_t bytes, unsigned int flags) {
    API("cuMemHostRegister");
    CURRENT();
    if (!p || bytes == 0) return violation(CUDA_ERROR_INVALID_VALUE, api_, "NULL pointer or 0 bytes");
    if (flags & ~0xfu) return violation(CUDA_ERROR_INVALID_VALUE, api_, "unknown flags %#x", flags);
    uintptr_t a = (uintptr_t) p;
    auto next = g_host.lower_bound(a);
    if ((next != g_host.end() && next->second.base < a + bytes) || find_host(a)) {
        return violation(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, api_, "[%p, +%zu) overlaps memory already pinned", p,
                         bytes);
    }
    if (find_alloc(a)) return violation(CUDA_ERROR_INVALID_VALUE, api_, "%p is device memory", p);
    HostBlock h;
    h.base = a;
    h.size = bytes;
    h.registered = true;
    h.ctx = ctx;
    g_host[a] = h;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemHostUnregister(void* p) {
    API("cuMemHostUnregister");
    CURRENT();
    auto it = g_host.find((uintptr_t) p);
    if (it == g_host.end() || !it->second.registered) {
        return violation(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, api_, "%p is not the start of a registered range", p);
    }
    flush_all();
    release_host(it);
    return CUDA_SUCCESS;
}

// ---- copies and memsets ----

namespace {

void count_h2d(size_t n) { g_count.h2d += (long long) n; }
void count_d2h(size_t n) { g_count.d2h += (long long) n; }

// cuMemcpyHtoD(Async): `async` says whether the host may return before the copy.
CUresult copy_h2d(const char* call, CUdeviceptr dst, const void* src, size_t n, CUstream h, bool async) {
    CUresult err_;
    Ctx* ctx = current(call, &err_);
    if (!ctx) return err_;
    const char* api_ = call;
    STREAM(h);
    if (n == 0) return CUDA_SUCCESS;
    if (CUresult e = check_device_range(ctx, dst, n, call, "destination")) return e;
    if (CUresult e = check_host_range(src, n, async, call, "host source")) return e;
    bool pinned = find_host((uintptr_t) src) != nullptr;
    if (async) {
        // the copy reads the host bytes when it runs: a host that rewrites them first sends the new ones
        enqueue(stream, [=] { memcpy((void*) dst, src, n); count_h2d(n); });
        return CUDA_SUCCESS;
    }
    if (pinned) {
        uint64_t seq = enqueue(stream, [=] { memcpy((void*) dst, src, n); count_h2d(n); });
        flush(stream, seq);
        return ctx->sticky;
    }
    // pageable: the driver syncs the stream, stages the bytes and returns before the DMA lands; only
    // work ordered after this copy (the legacy stream, blocking streams, a synchronisation) sees them
    flush(stream, stream->last_seq);
    auto staged = std::make_shared<std::vector<unsigned char>>((const unsigned char*) src, (const unsigned char*) src + n);
    enqueue(stream, [=] { memcpy((void*) dst, staged->data(), n); count_h2d(n); });
    return ctx->sticky;
}

CUresult copy_d2h(const char* call, void* dst, CUdeviceptr src, size_t n, CUstream h, bool async) {
    CUresult err_;
    Ctx* ctx = current(call, &err_);
    if (!ctx) return err_;
    const char* api_ = call;
    STREAM(h);
    if (n == 0) return CUDA_SUCCESS;
    if (CUresult e = check_device_range(ctx, src, n, call, "source")) return e;
    if (CUresult e = check_host_range(dst, n, async, call, "host destination")) return e;
    bool pinned = find_host((uintptr_t) dst) != nullptr;
    uint64_t seq = enqueue(stream, [=] { memcpy(dst, (const void*) src, n); count_d2h(n); });
    if (!async || !pinned) flush(stream, seq);   // to pageable memory even the async copy returns when done
    return ctx->sticky;
}

CUresult copy_d2d(const char* call, CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream h) {
    CUresult err_;
    Ctx* ctx = current(call, &err_);
    if (!ctx) return err_;
    const char* api_ = call;
    STREAM(h);
    if (n == 0) return CUDA_SUCCESS;
    if (CUresult e = check_device_range(ctx, dst, n, call, "destination")) return e;
    if (CUresult e = check_device_range(ctx, src, n, call, "source")) return e;
    enqueue(stream, [=] { memmove((void*) dst, (const void*) src, n); });
    return CUDA_SUCCESS;
}

CUresult memset_n(const char* call, CUdeviceptr dst, unsigned v, size_t n, int width, CUstream h) {
    CUresult err_;
    Ctx* ctx = current(call, &err_);
    if (!ctx) return err_;
    const char* api_ = call;
    STREAM(h);
    if (n == 0) return CUDA_SUCCESS;
    if (n > SIZE_MAX / (size_t) width) {
        return violation(CUDA_ERROR_INVALID_VALUE, call, "%zu elements of %d bytes overflow the address space", n, width);
    }
    if (dst % (unsigned) width) {
        return violation(CUDA_ERROR_INVALID_VALUE, call, "destination %#llx is not %d-byte aligned",
                         (unsigned long long) dst, width);
    }
    if (CUresult e = check_device_range(ctx, dst, n * (size_t) width, call, "destination")) return e;
    enqueue(stream, [=] {
        unsigned char* p = (unsigned char*) dst;
        for (size_t i = 0; i < n; i++) {
            if (width == 1) p[i] = (unsigned char) v;
            else if (width == 2) { uint16_t x = (uint16_t) v; memcpy(p + 2 * i, &x, 2); }
            else { uint32_t x = v; memcpy(p + 4 * i, &x, 4); }
        }
    });
    return CUDA_SUCCESS;   // device memsets are asynchronous to the host, the "synchronous" ones too
}

}  // namespace

EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t n) {
    API("cuMemcpyHtoD");
    return copy_h2d(api_, dst, src, n, nullptr, false);
}
EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t n, CUstream s) {
    API("cuMemcpyHtoDAsync");
    return copy_h2d(api_, dst, src, n, s, true);
}
EXPORT CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t n) {
    API("cuMemcpyDtoH");
    return copy_d2h(api_, dst, src, n, nullptr, false);
}
EXPORT CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t n, CUstream s) {
    API("cuMemcpyDtoHAsync");
    return copy_d2h(api_, dst, src, n, s, true);
}
EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t n) {
    API("cuMemcpyDtoD");
    return copy_d2d(api_, dst, src, n, nullptr);
}
EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
    API("cuMemcpyDtoDAsync");
    return copy_d2d(api_, dst, src, n, s);
}

namespace {
CUresult copy_peer(const char* call, CUdeviceptr dst, CUcontext dctx, CUdeviceptr src, CUcontext sctx, size_t n,
                   CUstream h) {
    CUresult err_;
    Ctx* ctx = current(call, &err_);
    if (!ctx) return err_;
    const char* api_ = call;
    STREAM(h);
    Ctx* d = context_of_handle(dctx);
    Ctx* s = context_of_handle(sctx);
    if (!d || !s || !d->active || !s->active) return violation(CUDA_ERROR_INVALID_CONTEXT, call, "a context is not active");
    if (n == 0) return CUDA_SUCCESS;
    const Alloc* da = find_alloc((uintptr_t) dst);
    const Alloc* sa = find_alloc((uintptr_t) src);
    if (!da || da->ctx != d || !inside((uintptr_t) dst, n, da->base, da->base + da->size)) {
        return violation(CUDA_ERROR_INVALID_VALUE, call, "destination [%#llx, +%zu) is not inside one allocation of device"
                         " %d", (unsigned long long) dst, n, d->device);
    }
    if (!sa || sa->ctx != s || !inside((uintptr_t) src, n, sa->base, sa->base + sa->size)) {
        return violation(CUDA_ERROR_INVALID_VALUE, call, "source [%#llx, +%zu) is not inside one allocation of device %d",
                         (unsigned long long) src, n, s->device);
    }
    // the copy is ordered after the work already queued on both devices' legacy streams
    std::vector<std::pair<Stream*, uint64_t>> deps;
    for (Ctx* c : {d, s}) {
        if (c != ctx) deps.push_back({c->streams.front(), c->streams.front()->last_seq});
    }
    enqueue(stream, [=] { memmove((void*) dst, (const void*) src, n); }, deps);
    return CUDA_SUCCESS;
}
}  // namespace

EXPORT CUresult cuMemcpyPeer(CUdeviceptr dst, CUcontext dctx, CUdeviceptr src, CUcontext sctx, size_t n) {
    API("cuMemcpyPeer");
    return copy_peer(api_, dst, dctx, src, sctx, n, nullptr);
}
EXPORT CUresult cuMemcpyPeerAsync(CUdeviceptr dst, CUcontext dctx, CUdeviceptr src, CUcontext sctx, size_t n,
                                  CUstream s) {
    API("cuMemcpyPeerAsync");
    return copy_peer(api_, dst, dctx, src, sctx, n, s);
}

EXPORT CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) {
    API("cuMemsetD8");
    return memset_n(api_, d, v, n, 1, nullptr);
}
EXPORT CUresult cuMemsetD16_v2(CUdeviceptr d, unsigned short v, size_t n) {
    API("cuMemsetD16");
    return memset_n(api_, d, v, n, 2, nullptr);
}
EXPORT CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned int v, size_t n) {
    API("cuMemsetD32");
    return memset_n(api_, d, v, n, 4, nullptr);
}
EXPORT CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream s) {
    API("cuMemsetD8Async");
    return memset_n(api_, d, v, n, 1, s);
}
EXPORT CUresult cuMemsetD16Async(CUdeviceptr d, unsigned short v, size_t n, CUstream s) {
    API("cuMemsetD16Async");
    return memset_n(api_, d, v, n, 2, s);
}
EXPORT CUresult cuMemsetD32Async(CUdeviceptr d, unsigned int v, size_t n, CUstream s) {
    API("cuMemsetD32Async");
    return memset_n(api_, d, v, n, 4, s);
}

// ---- streams ----

EXPORT CUresult cuStreamCreate(CUstream* out, unsigned int flags) {
    API("cuStreamCreate");
    CURRENT();
    if (!out) return violation(CUDA_ERROR_INVALID_VALUE, api_, "phStream is NULL");
    if (flags & ~1u) return violation(CUDA_ERROR_INVALID_VALUE, api_, "unknown flags %#x", flags);
    *out = reinterpret_cast<CUstream>(make_stream(ctx, flags, false)->handle);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamCreateWithPriority(CUstream* out, unsigned int flags, int priority) {
    (void) priority;
    return cuStreamCreate(out, flags);
}

EXPORT CUresult cuStreamDestroy_v2(CUstream h) {
    API("cuStreamDestroy");
    CURRENT();
    if (h == nullptr || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD) {
        return violation(CUDA_ERROR_INVALID_HANDLE, api_, "the default stream cannot be destroyed");
    }
    STREAM(h);
    // The driver returns at once and releases the stream when its work is done: the work stays queued
    // and runs when something waits for it, or at the next context-wide synchronisation.
    stream->destroyed = true;
    g_streams.erase(stream->handle);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamSynchronize(CUstream h) {
    API("cuStreamSynchronize");
    CURRENT();
    STREAM(h);
    flush(stream, UINT64_MAX);
    return ctx->sticky;
}

EXPORT CUresult cuStreamQuery(CUstream h) {
    API("cuStreamQuery");
    CURRENT();
    STREAM(h);
    if (!stream->pending()) return ctx->sticky;
    // adversarial: "not ready" once for the stream's current work; a caller that polls sees it done later
    if (stream->not_ready_for != stream->last_seq) {
        stream->not_ready_for = stream->last_seq;
        return CUDA_ERROR_NOT_READY;
    }
    flush(stream, UINT64_MAX);
    return ctx->sticky;
}

EXPORT CUresult cuStreamGetFlags(CUstream h, unsigned int* flags) {
    API("cuStreamGetFlags");
    CURRENT();
    STREAM(h);
    if (!flags) return violation(CUDA_ERROR_INVALID_VALUE, api_, "flags is NULL");
    *flags = stream->flags;
    return CUDA_SUCCESS;
}

// ---- events ----

Event* find_event(CUevent h, const char* call, CUresult* err) {
    auto it = g_events.find((uint64_t) (uintptr_t) h);
    if (it == g_events.end()) {
        *err = violation(CUDA_ERROR_INVALID_HANDLE, call, "event %p is not a live event (destroyed, or never made)",
                         (void*) h);
        return nullptr;
    }
    return it->second.get();
}

#define EVENT(var, h)                               \
    Event* var = find_event(h, api_, &err_);       \
    if (!var) return err_;

EXPORT CUresult cuEventCreate(CUevent* out, unsigned int flags) {
    API("cuEventCreate");
    CURRENT();
    if (!out) return violation(CUDA_ERROR_INVALID_VALUE, api_, "phEvent is NULL");
    if (flags & ~7u) return violation(CUDA_ERROR_INVALID_VALUE, api_, "unknown flags %#x", flags);
    auto e = std::make_unique<Event>();
    e->handle = new_handle();
    e->ctx = ctx;
    e->flags = flags;
    *out = reinterpret_cast<CUevent>(e->handle);
    g_events[e->handle] = std::move(e);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventDestroy_v2(CUevent h) {
    API("cuEventDestroy");
    CURRENT();
    EVENT(e, h);
    // like streams, a pending record still runs; nothing can wait on it any more
    g_events.erase(e->handle);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventRecord(CUevent h, CUstream sh) {
    API("cuEventRecord");
    CURRENT();
    EVENT(e, h);
    STREAM(sh);
    if (e->ctx != ctx) {
        return violation(CUDA_ERROR_INVALID_HANDLE, api_, "event %p belongs to device %d's context; the stream and the"
                         " current context are device %d's", (void*) h, e->ctx->device, ctx->device);
    }
    uint64_t handle = e->handle;
    e->stream = stream;
    e->ran = false;
    e->not_ready_answers = 0;
    e->seq = enqueue(stream, [handle] {
        auto it = g_events.find(handle);
        if (it != g_events.end()) {
            it->second->ran = true;
            it->second->time_ms = now_ms();
        }
    });
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventRecordWithFlags(CUevent h, CUstream s, unsigned int flags) {
    if (flags != 0) {
        std::lock_guard<std::recursive_mutex> lock(g_mu);
        return violation(CUDA_ERROR_NOT_SUPPORTED, "cuEventRecordWithFlags", "flags %#x are not emulated", flags);
    }
    return cuEventRecord(h, s);
}

EXPORT CUresult cuEventSynchronize(CUevent h) {
    API("cuEventSynchronize");
    CURRENT();
    EVENT(e, h);
    if (e->stream) flush(e->stream, e->seq);
    return e->ctx->sticky;
}

EXPORT CUresult cuEventQuery(CUevent h) {
    API("cuEventQuery");
    CURRENT();
    EVENT(e, h);
    if (!e->stream || e->stream->done_seq >= e->seq) return e->ctx->sticky;
    if (e->not_ready_answers++ == 0) return CUDA_ERROR_NOT_READY;   // adversarial: not yet, the first time
    flush(e->stream, e->seq);
    return e->ctx->sticky;
}

EXPORT CUresult cuEventElapsedTime(float* ms, CUevent a, CUevent b) {
    API("cuEventElapsedTime");
    CURRENT();
    EVENT(ea, a);
    EVENT(eb, b);
    if (!ms) return violation(CUDA_ERROR_INVALID_VALUE, api_, "pMilliseconds is NULL");
    if ((ea->flags | eb->flags) & CU_EVENT_DISABLE_TIMING) {
        return violation(CUDA_ERROR_INVALID_HANDLE, api_, "an event was created with CU_EVENT_DISABLE_TIMING");
    }
    if (!ea->stream || !eb->stream) return violation(CUDA_ERROR_INVALID_HANDLE, api_, "an event was never recorded");
    if (ea->stream->done_seq < ea->seq || eb->stream->done_seq < eb->seq) return CUDA_ERROR_NOT_READY;
    *ms = (float) (eb->time_ms - ea->time_ms);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamWaitEvent(CUstream sh, CUevent h, unsigned int flags) {
    API("cuStreamWaitEvent");
    CURRENT();
    STREAM(sh);
    EVENT(e, h);
    if (flags != 0) return violation(CUDA_ERROR_INVALID_VALUE, api_, "flags must be 0, got %u", flags);
    std::vector<std::pair<Stream*, uint64_t>> deps;
    if (e->stream) deps.push_back({e->stream, e->seq});   // the event's latest record, as of this call
    enqueue(stream, [] {}, deps);
    return CUDA_SUCCESS;
}

// ---- launches ----

EXPORT CUresult cuLaunchKernel(CUfunction fh, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
                               unsigned int by, unsigned int bz, unsigned int shared_bytes, CUstream sh,
                               void** params, void** extra) {
    API("cuLaunchKernel");
    CURRENT();
    STREAM(sh);
    auto it = g_functions.find((uint64_t) (uintptr_t) fh);
    if (it == g_functions.end() || !g_modules.count(it->second->module->handle)) {
        return violation(CUDA_ERROR_INVALID_HANDLE, api_, "function %p is not live (its module unloaded?)", (void*) fh);
    }
    Function* f = it->second;
    if (f->module->ctx != ctx) {
        return violation(CUDA_ERROR_INVALID_HANDLE, api_, "function %s was loaded in device %d's context, not the current"
                         " one (device %d)", f->kernel->name, f->module->ctx->device, ctx->device);
    }
    const KernelEntry* k = f->kernel;
    if (extra) return violation(CUDA_ERROR_NOT_SUPPORTED, api_, "the extra parameter form is not emulated");
    if (!params && k->param_count) return violation(CUDA_ERROR_INVALID_VALUE, api_, "kernelParams is NULL");
    unsigned long long threads = (unsigned long long) bx * by * bz;
    if (!gx || !gy || !gz || !bx || !by || !bz || threads > 1024 || bz > 64 || gy > 65535 || gz > 65535) {
        return violation(CUDA_ERROR_INVALID_VALUE, api_, "grid %ux%ux%u, block %ux%ux%u is not a valid launch", gx, gy, gz,
                         bx, by, bz);
    }
    if (shared_bytes > (48u << 10)) {
        return violation(CUDA_ERROR_INVALID_VALUE, api_, "%u bytes of dynamic shared memory exceed 48 KiB", shared_bytes);
    }
    // kernel parameters are copied at launch, as the driver does: [pointer array][values], 16-aligned
    size_t bytes = sizeof(void*) * (size_t) std::max(k->param_count, 1);
    std::vector<size_t> at((size_t) k->param_count);
    for (int i = 0; i < k->param_count; i++) {
        size_t al = std::max<size_t>(k->param_align[i], 8);
        bytes = (bytes + al - 1) / al * al;
        at[(size_t) i] = bytes;
        bytes += k->param_size[i];
    }
    auto buffer = std::make_shared<std::vector<unsigned char>>(bytes + 16);
    uintptr_t lo = ((uintptr_t) buffer->data() + 15) / 16 * 16;
    unsigned char* base = reinterpret_cast<unsigned char*>(lo);
    for (int i = 0; i < k->param_count; i++) {
        if (!params[i]) return violation(CUDA_ERROR_INVALID_VALUE, api_, "kernelParams[%d] is NULL", i);
        memcpy(base + at[(size_t) i], params[i], k->param_size[i]);
        reinterpret_cast<void**>(base)[i] = base + at[(size_t) i];
    }
    auto launch = std::make_shared<Launch>();
    launch->kernel = k;
    launch->ctx = ctx;
    launch->grid = uint3{gx, gy, gz};
    launch->block = uint3{bx, by, bz};
    launch->fibers = k->uses_syncthreads && threads > 1;
    enqueue(stream, [launch, buffer, lo, bytes] { execute_launch(launch.get(), lo, lo + bytes); });
    return CUDA_SUCCESS;
}

// ---- errors ----

EXPORT CUresult cuGetErrorName(CUresult error, const char** name) {
    static const std::map<int, const char*> names = {
        {0, "CUDA_SUCCESS"}, {1, "CUDA_ERROR_INVALID_VALUE"}, {2, "CUDA_ERROR_OUT_OF_MEMORY"},
        {3, "CUDA_ERROR_NOT_INITIALIZED"}, {101, "CUDA_ERROR_INVALID_DEVICE"}, {200, "CUDA_ERROR_INVALID_IMAGE"},
        {201, "CUDA_ERROR_INVALID_CONTEXT"}, {400, "CUDA_ERROR_INVALID_HANDLE"}, {500, "CUDA_ERROR_NOT_FOUND"},
        {600, "CUDA_ERROR_NOT_READY"}, {700, "CUDA_ERROR_ILLEGAL_ADDRESS"}, {709, "CUDA_ERROR_CONTEXT_IS_DESTROYED"},
        {712, "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED"}, {713, "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED"},
        {716, "CUDA_ERROR_MISALIGNED_ADDRESS"}, {719, "CUDA_ERROR_LAUNCH_FAILED"}, {801, "CUDA_ERROR_NOT_SUPPORTED"},
        {999, "CUDA_ERROR_UNKNOWN"}};
    if (!name) return CUDA_ERROR_INVALID_VALUE;
    auto it = names.find(error);
    if (it == names.end()) {
        *name = nullptr;
        return CUDA_ERROR_INVALID_VALUE;
    }
    *name = it->second;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuGetErrorString(CUresult error, const char** text) { return cuGetErrorName(error, text); }

// ---- the emulator's own functions ----

EXPORT int cudaEmuCounters(long long* out, int n) {
    std::lock_guard<std::recursive_mutex> lock(g_mu);
    configure();
    long long live_streams = 0;
    for (auto& s : g_streams) live_streams += !s.second->destroyed;
    long long values[] = {g_count.violations, (long long) g_allocs.size(), (long long) g_host.size(), live_streams,
                          (long long) g_events.size(), g_count.context_creations,
                          g_count.destroyed_allocs + g_count.destroyed_streams + g_count.destroyed_events,
                          g_count.launches, g_count.h2d, g_count.d2h, (long long) g_modules.size(),
                          g_count.destroyed_allocs, g_count.destroyed_streams, g_count.destroyed_events};
    int count = (int) (sizeof values / sizeof values[0]);
    int w = std::min(n, count);
    for (int i = 0; i < w; i++) out[i] = values[i];
    return w;
}

EXPORT int cudaEmuFail(const char* call, int n, int code) {
    std::lock_guard<std::recursive_mutex> lock(g_mu);
    configure();
    std::string c = base_name(call);
    if (n <= 0) {
        g_fail.erase(c);
    } else {
        g_fail[c] = Failure{n, 0, code ? code : default_failure(c)};
    }
    return 0;
}

// The exit report: one line whenever something is wrong (or always with CUDA_EMU_REPORT=1).
__attribute__((destructor)) static void cuda_emu_report() {
    std::lock_guard<std::recursive_mutex> lock(g_mu);
    long long counters[14] = {};
    cudaEmuCounters(counters, 14);
    long long allocs = counters[1] + counters[2] + g_count.destroyed_allocs;
    long long streams = counters[3] + g_count.destroyed_streams;
    long long events = counters[4] + g_count.destroyed_events;
    const char* always = getenv("CUDA_EMU_REPORT");
    bool report = counters[0] || allocs || streams || events || (always && strcmp(always, "1") == 0);
    if (report) {
        fprintf(stderr, "cuda-emu: %lld violations, %lld leaked allocations, %lld leaked streams, %lld leaked events,"
                " %lld context creations\n", counters[0], allocs, streams, events, counters[5]);
        fflush(stderr);
    }
}

// Every other symbol JCuda's JNI library imports: a call is a violation naming the function.
#define EMU_STUB(name)                                                                             \
    EXPORT CUresult name() {                                                                       \
        std::lock_guard<std::recursive_mutex> lock(g_mu);                                          \
        return violation(CUDA_ERROR_NOT_SUPPORTED, #name, "not emulated (cuda/emu/README.md lists what is)"); \
    }
#include "emu_stubs.inc"
