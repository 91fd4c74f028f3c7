// cubatch.cpp: libcubatch, the CPU implementation of the cuda/*.cuh element functions, multithreaded over
// the rows of the batch. Build: make -C native (the Maven build does).
#include "cubatch.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include <unistd.h>

#include "cb_collate.cuh"
#include "cb_pad.cuh"
#include "cb_pack.cuh"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CB_X86 1
#endif

namespace {

// ---- Fast converting copies for the common dtype pairs (int32/int64/float32 -> float32/float16/bfloat16).
// They write exactly the bytes of cb_convert_run (cuda/cb_convert.cuh) and report the same first element
// that does not fit; test_cubatch checks them against it (every float16, random float bits, integer edges).
// Where no fast loop applies, cb_convert_run itself runs.

constexpr int64_t kChunk = 256;

// float -> float16 bits, round to nearest even (F. Giesen's float_to_half_fast3_rtne): NaN gives a signed
// quiet NaN and overflow infinity, which fix_half then canonicalises or reports.
inline uint16_t half_soft(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint32_t sign = x & 0x80000000u;
    x ^= sign;
    uint16_t o;
    if (x >= (127u + 16) << 23) {
        o = x > 255u << 23 ? 0x7e00 : 0x7c00;
    } else if (x < 113u << 23) {
        const uint32_t magic_bits = ((127u - 15) + (23 - 10) + 1) << 23;
        float magic, v;
        memcpy(&magic, &magic_bits, 4);
        memcpy(&v, &x, 4);
        v += magic;
        uint32_t vb;
        memcpy(&vb, &v, 4);
        o = (uint16_t) (vb - magic_bits);
    } else {
        uint32_t mant_odd = (x >> 13) & 1;
        x += ((uint32_t) (15 - 127) << 23) + 0xfff + mant_odd;
        o = (uint16_t) (x >> 13);
    }
    return (uint16_t) (o | (sign >> 16));
}

#ifdef CB_X86
__attribute__((target("avx,f16c"))) void halves_f16c(const float* f, uint16_t* h, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm_storeu_si128((__m128i*) (h + i), _mm256_cvtps_ph(_mm256_loadu_ps(f + i), _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; i++) h[i] = half_soft(f[i]);
}
const bool kHaveF16c = (__builtin_cpu_init(), __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c"));
#endif

inline void halves(const float* f, uint16_t* h, int64_t n) {
#ifdef CB_X86
    if (kHaveF16c) {
        halves_f16c(f, h, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) h[i] = half_soft(f[i]);
}

// Infinity or NaN in h[0, n) (the rare case) is settled as cb_convert.cuh does: a NaN source gives the
// canonical 0x7e00, an infinite one keeps its infinity, a finite one overflowed: returns its index, else -1.
inline int64_t fix_half(const float* f, uint16_t* h, int64_t n, bool int_source) {
    for (int64_t i = 0; i < n; i++) {
        if ((h[i] & 0x7c00) != 0x7c00) continue;
        if (int_source) return i;
        uint32_t x;
        memcpy(&x, &f[i], 4);
        if ((x & 0x7fffffffu) > 0x7f800000u) {
            h[i] = 0x7e00;
        } else if ((x & 0x7fffffffu) != 0x7f800000u) {
            return i;
        }
    }
    return -1;
}

// Source elements [src, src + n) as floats: exact for float32, and for integers of magnitude below 2^24;
// *exact says whether every one of them was.
inline void load_floats(const cb_pad_args* a, int64_t src, int64_t n, float* f, bool* exact) {
    const unsigned char* v = (const unsigned char*) a->values;
    *exact = true;
    if (a->src_dtype == CB_FLOAT32) {
        memcpy(f, v + src * 4, (size_t) n * 4);
    } else if (a->src_dtype == CB_INT32) {
        int32_t t[kChunk];
        memcpy(t, v + src * 4, (size_t) n * 4);
        int32_t lo = 0, hi = 0;
        for (int64_t i = 0; i < n; i++) {
            f[i] = (float) t[i];
            lo = std::min(lo, t[i]);
            hi = std::max(hi, t[i]);
        }
        *exact = lo > -(1 << 24) && hi < (1 << 24);
    } else {
        int64_t t[kChunk];
        memcpy(t, v + src * 8, (size_t) n * 8);
        int64_t lo = 0, hi = 0;
        for (int64_t i = 0; i < n; i++) {
            f[i] = (float) t[i];
            lo = std::min(lo, t[i]);
            hi = std::max(hi, t[i]);
        }
        *exact = lo > -(1 << 24) && hi < (1 << 24);
    }
}

#ifdef CB_X86
// ---- One fused pass per dtype pair with AVX2 and F16C: 8 elements per step, loaded, converted and stored
// without leaving registers, in a loop without branches but its own: each step ORs into one flag vector the
// lanes that the fast formula does not settle (an integer past float16's or float's exact range, a float that
// is NaN or rounds to infinity), and one test per block of 64 elements sends a block with any such lane to
// cb_convert_run, the defining routine, which rewrites the block and names the first element that does not
// fit. A block's last count % 8 elements go through the same step on a zero-padded copy, of which only the
// real lanes are stored.
// So the bytes and the failing index are cb_convert_run's (test_cubatch).

// One step: 8 source elements of dtype S at p converted to 8 of dtype D at q; lanes the formula does not
// settle are ORed into *bad. The checks are on the input: a negative NaN from 0xffff8001 wraps around 2^32 in
// the bfloat16 rounding sum and would look like zero in the result (found by the reader fuzzer).
template <int S, int D>
__attribute__((target("avx2,f16c"), always_inline)) inline void step8(const unsigned char* p, unsigned char* q,
                                                                      __m256i* bad) {
    // integers: float16 takes |v| <= 65504 without overflow; bfloat16 and float32 from int64 every |v| < 2^24,
    // exact as a float; float32 from int32 every value (one rounding, as the C cast)
    constexpr int32_t lim = D == CB_FLOAT16 ? 65504 : (1 << 24) - 1;
    __m256 f;
    if (S == CB_FLOAT32) {
        f = _mm256_loadu_ps((const float*) p);
        if (D != CB_FLOAT32) {   // float16 from 65520 (rounds to infinity), bfloat16 from 0x7f7f8000; NaNs above
            const __m256i magnitude = _mm256_and_si256(_mm256_castps_si256(f), _mm256_set1_epi32(0x7fffffff));
            const int32_t special = D == CB_FLOAT16 ? 0x477ff000 : 0x7f7f8000;
            *bad = _mm256_or_si256(*bad, _mm256_cmpgt_epi32(magnitude, _mm256_set1_epi32(special - 1)));
        }
    } else if (S == CB_INT32) {
        const __m256i v = _mm256_loadu_si256((const __m256i*) p);
        if (D != CB_FLOAT32) {
            const __m256i out = _mm256_or_si256(_mm256_cmpgt_epi32(v, _mm256_set1_epi32(lim)),
                                                _mm256_cmpgt_epi32(_mm256_set1_epi32(-lim), v));
            *bad = _mm256_or_si256(*bad, out);
        }
        f = _mm256_cvtepi32_ps(v);
    } else {
        const __m256i x0 = _mm256_loadu_si256((const __m256i*) p);
        const __m256i x1 = _mm256_loadu_si256((const __m256i*) (p + 32));
        const __m256i hi = _mm256_set1_epi64x(lim), lo = _mm256_set1_epi64x(-(int64_t) lim);
        const __m256i out = _mm256_or_si256(_mm256_or_si256(_mm256_cmpgt_epi64(x0, hi), _mm256_cmpgt_epi64(lo, x0)),
                                            _mm256_or_si256(_mm256_cmpgt_epi64(x1, hi), _mm256_cmpgt_epi64(lo, x1)));
        *bad = _mm256_or_si256(*bad, out);
        // the low int32 of each int64: lanes 0, 2, 4, 6 of each half, then the halves side by side
        const __m256i pick = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
        const __m256i a = _mm256_permutevar8x32_epi32(x0, pick), b = _mm256_permutevar8x32_epi32(x1, pick);
        f = _mm256_cvtepi32_ps(_mm256_permute2x128_si256(a, b, 0x20));
    }
    if (D == CB_FLOAT32) {
        _mm256_storeu_ps((float*) q, f);
    } else if (D == CB_FLOAT16) {
        _mm_storeu_si128((__m128i*) q, _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT));
    } else {   // bfloat16, round to nearest even: the scalar formula of FastConvert, lane-wise
        const __m256i x = _mm256_castps_si256(f);
        __m256i r = _mm256_add_epi32(x, _mm256_set1_epi32(0x7fff));
        r = _mm256_add_epi32(r, _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1)));
        r = _mm256_srli_epi32(r, 16);
        const __m256i packed = _mm256_packus_epi32(r, r);   // r <= 0xffff: no saturation
        _mm_storeu_si128((__m128i*) q, _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08)));
    }
}

// The fused pass for src dtype S into dst dtype D (float32, float16 or bfloat16): returns -1 or the flat output
// index of the first element that does not fit. It checks its flags once per block of kBlock elements, so a
// value the steps do not settle (a NaN in a float row, say) sends that block, not the whole row, to the
// element loop.
constexpr int64_t kBlock = 64;

template <int S, int D>
__attribute__((target("avx2,f16c"))) int64_t convert_avx2(const cb_pad_args* a, int64_t src, int64_t out,
                                                          int64_t count) {
    constexpr int ss = S == CB_INT64 ? 8 : 4, ds = D == CB_FLOAT32 ? 4 : 2;
    const unsigned char* sp = (const unsigned char*) a->values + src * ss;
    unsigned char* op = (unsigned char*) a->out + out * ds;
    for (int64_t at = 0; at < count; at += kBlock) {
        const int64_t end = std::min(count, at + kBlock);
        __m256i bad = _mm256_setzero_si256();
        int64_t i = at;
        for (; i + 8 <= end; i += 8) step8<S, D>(sp + i * ss, op + i * ds, &bad);
        if (i < end) {
            alignas(32) unsigned char in[8 * ss] = {};
            alignas(32) unsigned char res[8 * ds];
            memcpy(in, sp + i * ss, (size_t) (end - i) * ss);
            step8<S, D>(in, res, &bad);
            memcpy(op + i * ds, res, (size_t) (end - i) * ds);
        }
        if (!_mm256_testz_si256(bad, bad)) {   // the blocks before converted cleanly: a failure is in this one
            const int64_t r = cb_convert_run(a, src + at, out + at, end - at);
            if (r >= 0) return r;
        }
    }
    return -1;
}

// __builtin_cpu_init first: in a shared library's static initialisers the CPU model may not be set up yet
const bool kHaveAvx2 = (__builtin_cpu_init(), __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c"));

// The fused pass for (s, d) when the CPU has AVX2 and F16C; false when there is none for the pair.
inline bool convert_vector(const cb_pad_args* a, int64_t src, int64_t out, int64_t count, int64_t* result) {
    if (!kHaveAvx2) return false;
    const int s = a->src_dtype, d = a->dst_dtype;
    if (d == CB_FLOAT16) {
        if (s == CB_INT32) *result = convert_avx2<CB_INT32, CB_FLOAT16>(a, src, out, count);
        else if (s == CB_INT64) *result = convert_avx2<CB_INT64, CB_FLOAT16>(a, src, out, count);
        else if (s == CB_FLOAT32) *result = convert_avx2<CB_FLOAT32, CB_FLOAT16>(a, src, out, count);
        else return false;
        return true;
    }
    if (d == CB_FLOAT32) {
        if (s == CB_INT32) *result = convert_avx2<CB_INT32, CB_FLOAT32>(a, src, out, count);
        else if (s == CB_INT64) *result = convert_avx2<CB_INT64, CB_FLOAT32>(a, src, out, count);
        else return false;
        return true;
    }
    if (d == CB_BFLOAT16) {
        if (s == CB_INT32) *result = convert_avx2<CB_INT32, CB_BFLOAT16>(a, src, out, count);
        else if (s == CB_INT64) *result = convert_avx2<CB_INT64, CB_BFLOAT16>(a, src, out, count);
        else if (s == CB_FLOAT32) *result = convert_avx2<CB_FLOAT32, CB_BFLOAT16>(a, src, out, count);
        else return false;
        return true;
    }
    return false;
}
#endif

// Whether FastConvert may use the fused vector passes (test_cubatch turns them off to test the other path).
std::atomic<bool> g_vector_convert{true};

struct FastConvert {
    int64_t operator()(const cb_pad_args* a, int64_t src, int64_t out, int64_t count) const {
        const int s = a->src_dtype, d = a->dst_dtype;
        if (s == d || (s != CB_INT32 && s != CB_INT64 && s != CB_FLOAT32) ||
            (d != CB_FLOAT32 && d != CB_FLOAT16 && d != CB_BFLOAT16)) {   // same dtype: a bit copy, never here
            return cb_convert_run(a, src, out, count);
        }
#ifdef CB_X86
        int64_t result;
        if (g_vector_convert.load(std::memory_order_relaxed) && convert_vector(a, src, out, count, &result)) return result;
#endif
        unsigned char* o = (unsigned char*) a->out;
        const bool int_source = s != CB_FLOAT32;
        for (int64_t at = 0; at < count; at += kChunk) {
            const int64_t n = std::min(kChunk, count - at);
            float f[kChunk];
            bool exact;
            if (d == CB_FLOAT32 && s == CB_INT64) {   // int64 -> float32 rounds once, as cb_store does
                int64_t t[kChunk];
                memcpy(t, (const unsigned char*) a->values + (src + at) * 8, (size_t) n * 8);
                for (int64_t i = 0; i < n; i++) f[i] = (float) t[i];
                memcpy(o + (out + at) * 4, f, (size_t) n * 4);
                continue;
            }
            load_floats(a, src + at, n, f, &exact);
            if (!exact) {   // an integer past 2^24: float would round it twice; the defining loop instead
                if (d == CB_FLOAT32 && s == CB_INT32) {
                    memcpy(o + (out + at) * 4, f, (size_t) n * 4);   // int32 -> float32 is one rounding
                    continue;
                }
                int64_t bad = cb_convert_run(a, src + at, out + at, n);
                if (bad >= 0) return bad;
                continue;
            }
            if (d == CB_FLOAT32) {
                memcpy(o + (out + at) * 4, f, (size_t) n * 4);
            } else if (d == CB_FLOAT16) {
                uint16_t h[kChunk];
                halves(f, h, n);
                int64_t bad = fix_half(f, h, n, int_source);
                if (bad >= 0) return out + at + bad;
                memcpy(o + (out + at) * 2, h, (size_t) n * 2);
            } else {
                uint16_t h[kChunk];
                int64_t bad = -1;
                for (int64_t i = 0; i < n; i++) {
                    uint32_t x;
                    memcpy(&x, &f[i], 4);
                    uint32_t r = (x + 0x7fffu + ((x >> 16) & 1)) >> 16;
                    uint32_t m = x & 0x7fffffffu;
                    if (m > 0x7f800000u) r = 0x7fc0;
                    else if ((r & 0x7fff) == 0x7f80 && m != 0x7f800000u && bad < 0) bad = i;
                    h[i] = (uint16_t) r;
                }
                if (bad >= 0) return out + at + bad;
                memcpy(o + (out + at) * 2, h, (size_t) n * 2);
            }
        }
        return -1;
    }
};

// Worker threads that live as long as the process, started on first use: a batch split over threads hands
// them its row ranges instead of starting and joining threads of its own, which cost about as much as the
// split saved (batch 1024 on 2 cores: native on 2 threads ran no faster than java on one). A worker spins for
// up to kSpin after its last job before it sleeps on the condition variable, and the caller spins as long for
// the workers to finish: a futex wake-up costs tens of microseconds in a VM, a tenth of a 1024-row batch. One
// job at a time: a caller that finds the pool busy (another collator on another thread) runs its rows itself.
// Never destroyed (its threads wait on it until the process exits), so no destructor races them at exit.
class Pool {
public:
    static constexpr int64_t kMaxWorkers = 64;

    static Pool& get() {
        static Pool* pool = new Pool();
        return *pool;
    }

    // Runs fn(ctx, w) for w in [0, workers), w = 0 on the calling thread; false (running nothing) when the pool
    // is busy with another caller's job.
    bool run(int64_t workers, void (*fn)(void*, int64_t), void* ctx) {
        std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
        if (!busy.owns_lock()) return false;
        if (getpid() != pid_) return false;   // a forked child has the pool's fields but none of its threads
        while ((int64_t) started_ < workers - 1) {
            // a new worker starts from the current job: it must not take the last one for a new one
            uint64_t now = job_.load(std::memory_order_relaxed);
            try {
                std::thread(&Pool::loop, this, (int64_t) started_ + 1, now).detach();
            } catch (const std::system_error&) {   // no thread to be had (a process limit): rows run inline
                return false;
            }
            started_++;
        }
        fn_ = fn;
        ctx_ = ctx;
        pending_.store(workers - 1, std::memory_order_relaxed);
        {
            std::lock_guard<std::mutex> lk(m_);   // a worker checks job_ under m_ before it sleeps
            uint64_t next = ((job_.load(std::memory_order_relaxed) >> 7) + 1) << 7 | (uint64_t) workers;
            job_.store(next, std::memory_order_release);
        }
        cv_.notify_all();
        fn(ctx, 0);
        if (!spin([&] { return pending_.load(std::memory_order_acquire) == 0; })) {
            std::unique_lock<std::mutex> lk(m_);
            done_.wait(lk, [&] { return pending_.load(std::memory_order_acquire) == 0; });
        }
        return true;
    }

private:
    static constexpr std::chrono::microseconds kSpin{100};

    // Polls done() for up to kSpin; whether it became true.
    template <typename Done>
    static bool spin(Done done) {
        auto until = std::chrono::steady_clock::now() + kSpin;
        for (int i = 0;; i++) {
            if (done()) return true;
#ifdef CB_X86
            _mm_pause();
#endif
            if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) return done();
        }
    }

    // A worker learns a job's number and worker count from one load of job_. One that the job does not need
    // reads nothing else of it and does not acknowledge it, so a 2-worker job on a 64-core machine waits for
    // one worker, not 63; the job's fields (fn_, ctx_) are read only by the workers the caller waits for, so
    // the next job cannot overwrite them while they are read.
    void loop(int64_t id, uint64_t seen) {
        for (;;) {
            if (!spin([&] { return job_.load(std::memory_order_acquire) != seen; })) {
                std::unique_lock<std::mutex> lk(m_);
                cv_.wait(lk, [&] { return job_.load(std::memory_order_acquire) != seen; });
            }
            seen = job_.load(std::memory_order_acquire);
            if (id >= (int64_t) (seen & 127)) continue;   // not needed for this job
            fn_(ctx_, id);
            if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                std::lock_guard<std::mutex> lk(m_);   // the caller checks pending_ under m_ before it sleeps
                done_.notify_one();
            }
        }
    }

    const pid_t pid_ = getpid();
    std::mutex busy_;
    std::mutex m_;
    std::condition_variable cv_;
    std::condition_variable done_;
    size_t started_ = 0;                        // under busy_
    std::atomic<uint64_t> job_{0};              // job number << 7 | its workers (<= 64); publishes fn_, ctx_
    std::atomic<int64_t> pending_{0};           // workers of the current job that have not finished
    void (*fn_)(void*, int64_t) = nullptr;
    void* ctx_ = nullptr;
};

// Runs row(b, &bad) for b in [0, batch) on up to `threads` threads. Returns the status of the lowest
// failing row and, in *error_out, its bad index, so the result does not depend on the thread count.
// Below this much output per thread, a split costs more than it saves.
constexpr int64_t kBytesPerThread = 4 << 20;

// Rows [from, to) in order; stops at the first failing row, whose status it returns with its bad index in
// *error_out.
template <typename Row>
int32_t rows_range(Row& row, int64_t from, int64_t to, int64_t* error_out) {
    for (int64_t b = from; b < to; b++) {
        int64_t bad = 0;
        int32_t s = row(b, &bad);
        if (s != CB_OK) {
            *error_out = bad;
            return s;
        }
    }
    return CB_OK;
}

template <typename Row>
int32_t for_rows(int64_t batch, int64_t out_bytes, int32_t threads, int64_t* error_out, Row row) {
    int64_t workers = std::max<int64_t>(1, std::min<int64_t>({(int64_t) threads, batch, 1 + out_bytes / kBytesPerThread,
                                                              Pool::kMaxWorkers}));
    if (workers == 1) {   // the common small batch: no thread and no heap allocation
        return rows_range(row, 0, batch, error_out);
    }
    struct Job {
        Row* row;
        int64_t batch;
        int64_t workers;
        int64_t fail_at[Pool::kMaxWorkers];
        int32_t fail_status[Pool::kMaxWorkers];
    } job;
    job.row = &row;
    job.batch = batch;
    job.workers = workers;
    auto work = [](void* ctx, int64_t w) {
        Job* j = (Job*) ctx;
        j->fail_status[w] = rows_range(*j->row, j->batch * w / j->workers, j->batch * (w + 1) / j->workers,
                                       &j->fail_at[w]);
    };
    if (!Pool::get().run(workers, work, &job)) {
        return rows_range(row, 0, batch, error_out);   // the pool serves another caller: this batch on one thread
    }
    for (int64_t w = 0; w < workers; w++) {   // workers own ascending row ranges: the first failure wins
        if (job.fail_status[w] != CB_OK) {
            *error_out = job.fail_at[w];
            return job.fail_status[w];
        }
    }
    return CB_OK;
}

bool valid_dtype(int32_t d) { return d >= 0 && d < CB_DTYPE_COUNT; }

// One load of each row's first source element, for all rows before any row is copied. When the tokens come from
// DRAM (a corpus larger than the cache), these independent loads put every row's first miss in flight at once;
// otherwise each row's first miss waits behind the previous row's copy. 10-15 % faster at batch 8 to 256 with the
// tokens in a 420 MB corpus (a C harness, commit a2ff4e1); the C ceiling does the same.
void touch_rows(const cb_pad_args* a) {
    if (!a->offsets || !a->values) return;
    const int64_t step = a->features * cb_dtype_size(a->src_dtype);
    const volatile unsigned char* v = (const volatile unsigned char*) a->values;
    for (int64_t b = 0; b < a->batch; b++) {
        const int64_t s = a->indices ? a->indices[b] : b;
        if (a->offsets[s + 1] > a->offsets[s]) (void) v[a->offsets[s] * step];
    }
}

}  // namespace

extern "C" int32_t cb_abi_version(void) { return CB_ABI_VERSION; }

// For test_cubatch: the fast converting copy of `count` elements, as cb_pad uses it.
// vector: 0 to test the chunked path where the fused vector passes would otherwise run.
extern "C" int64_t cb_test_fast_convert(const void* values, int32_t src_dtype, void* out, int32_t dst_dtype,
                                        int64_t count, int32_t vector) {
    g_vector_convert = vector != 0;
    cb_pad_args a = {};
    a.values = values;
    a.src_dtype = src_dtype;
    a.out = out;
    a.dst_dtype = dst_dtype;
    int64_t r = FastConvert()(&a, 0, 0, count);
    g_vector_convert = true;
    return r;
}

extern "C" int32_t cb_pad(const void* values, int32_t src_dtype, const int64_t* offsets, int64_t fixed_len,
                          int64_t features, const int64_t* indices, int64_t batch, int64_t out_len, int64_t limit,
                          int32_t pad_side, int32_t trunc_side, int32_t dst_dtype, const void* pad_value, void* out,
                          int32_t* lengths, uint8_t* mask, int32_t* positions, int32_t threads, int64_t* error_out) {
    if (!valid_dtype(src_dtype) || !valid_dtype(dst_dtype) || features < 1 || batch < 0 || out_len < 0 ||
        limit < 0 || limit > out_len || (pad_side != CB_SIDE_PRE && pad_side != CB_SIDE_POST) ||
        trunc_side < CB_SIDE_PRE || trunc_side > CB_SIDE_NONE || !error_out || !pad_value || (batch > 0 && !out)) {
        return CB_ERR_ARGUMENT;
    }
    cb_pad_args a = {values, src_dtype, offsets, fixed_len, features, indices, batch, out_len, limit,
                     pad_side, trunc_side, dst_dtype, pad_value, out, lengths, mask, positions};
    int64_t bytes = batch * out_len * features * cb_dtype_size(dst_dtype);
    touch_rows(&a);
    return for_rows(batch, bytes, threads, error_out, [&](int64_t b, int64_t* bad) {
        return cb_pad_row_with(&a, b, bad, FastConvert());
    });
}

extern "C" int32_t cb_stack(const void* values, int32_t src_dtype, int64_t row_elems, const int64_t* indices,
                            int64_t batch, int32_t dst_dtype, void* out, int32_t threads, int64_t* error_out) {
    if (!valid_dtype(src_dtype) || !valid_dtype(dst_dtype) || row_elems < 0 || batch < 0 || !error_out) {
        return CB_ERR_ARGUMENT;
    }
    cb_stack_args a = {values, src_dtype, row_elems, indices, batch, dst_dtype, out};
    int64_t bytes = batch * row_elems * cb_dtype_size(dst_dtype);
    return for_rows(batch, bytes, threads, error_out, [&](int64_t b, int64_t* bad) { return cb_stack_row(&a, b, bad); });
}

extern "C" int32_t cb_pack(const void* values, int32_t src_dtype, int64_t features, const int64_t* first,
                           const int64_t* keep, const int64_t* start, int64_t seqs, int64_t rows, int64_t maxlen,
                           int32_t dst_dtype, const void* pad_value, void* out, uint8_t* mask, int32_t* positions,
                           int32_t* lengths, int32_t* cu_seqlens, int32_t* max_seqlen, int64_t* error_out) {
    if (!valid_dtype(src_dtype) || !valid_dtype(dst_dtype) || features < 1 || seqs < 0 || rows < 0 || maxlen < 0
        || !error_out || !lengths || !cu_seqlens || !max_seqlen || !mask) {
        return CB_ERR_ARGUMENT;
    }
    cb_pack_args a = {values, src_dtype, features, first, keep, start, seqs, rows, maxlen, dst_dtype, pad_value, out,
                      mask, positions, lengths, cu_seqlens, max_seqlen};
    cb_pack_sequences(&a);
    // the kernel's sequence and gap functions, in packed order: the first failure is the lowest element
    for (int64_t k = 0; k <= seqs; k++) {
        cb_pack_gap_part(&a, k, 0, 1);
        if (k == seqs) break;
        cb_pack_seq_masks_part(&a, k, 0, 1);
        int64_t bad = cb_pack_seq_part(&a, k, 0, 1);
        if (bad >= 0) {
            *error_out = bad;
            return CB_ERR_VALUE_DOES_NOT_FIT;
        }
    }
    return CB_OK;
}

#define CB_FIELD(T, f) (int64_t) offsetof(T, f)
extern "C" int32_t cb_struct_layout(int32_t which, int64_t* out, int32_t capacity) {
    std::vector<int64_t> v;
    if (which == 0) {
        v = {(int64_t) sizeof(cb_pad_args), CB_FIELD(cb_pad_args, values), CB_FIELD(cb_pad_args, src_dtype),
             CB_FIELD(cb_pad_args, offsets), CB_FIELD(cb_pad_args, fixed_len), CB_FIELD(cb_pad_args, features),
             CB_FIELD(cb_pad_args, indices), CB_FIELD(cb_pad_args, batch), CB_FIELD(cb_pad_args, out_len),
             CB_FIELD(cb_pad_args, limit), CB_FIELD(cb_pad_args, pad_side), CB_FIELD(cb_pad_args, trunc_side),
             CB_FIELD(cb_pad_args, dst_dtype), CB_FIELD(cb_pad_args, pad_value), CB_FIELD(cb_pad_args, out),
             CB_FIELD(cb_pad_args, lengths), CB_FIELD(cb_pad_args, mask), CB_FIELD(cb_pad_args, positions)};
    } else if (which == 1) {
        v = {(int64_t) sizeof(cb_stack_args), CB_FIELD(cb_stack_args, values), CB_FIELD(cb_stack_args, src_dtype),
             CB_FIELD(cb_stack_args, row_elems), CB_FIELD(cb_stack_args, indices), CB_FIELD(cb_stack_args, batch),
             CB_FIELD(cb_stack_args, dst_dtype), CB_FIELD(cb_stack_args, out)};
    } else if (which == 2) {
        v = {(int64_t) sizeof(cb_pack_args), CB_FIELD(cb_pack_args, values), CB_FIELD(cb_pack_args, src_dtype),
             CB_FIELD(cb_pack_args, features), CB_FIELD(cb_pack_args, first), CB_FIELD(cb_pack_args, keep),
             CB_FIELD(cb_pack_args, start), CB_FIELD(cb_pack_args, seqs), CB_FIELD(cb_pack_args, rows),
             CB_FIELD(cb_pack_args, maxlen), CB_FIELD(cb_pack_args, dst_dtype), CB_FIELD(cb_pack_args, pad_value),
             CB_FIELD(cb_pack_args, out), CB_FIELD(cb_pack_args, mask), CB_FIELD(cb_pack_args, positions),
             CB_FIELD(cb_pack_args, lengths), CB_FIELD(cb_pack_args, cu_seqlens), CB_FIELD(cb_pack_args, max_seqlen)};
    } else {
        return -1;
    }
    if (!out || capacity < (int32_t) v.size()) return -1;
    std::copy(v.begin(), v.end(), out);
    return (int32_t) v.size();
}

namespace {

// The benchmarks' ceiling (cb_ceiling_pad): the bytes padding cannot avoid moving, the cheapest way in C.
// S and D are unsigned types of the source and output element sizes; a narrowing or widening is a plain
// integer cast, the cheapest move of those bytes (no conversion semantics). First every row's offsets (a
// backend reads them all before padding, to find the batch's longest: independent loads, which overlap) and
// its first token (cb_pad's touch_rows), then the rows, split over threads exactly as cb_pad splits them (for_rows), so the two compare like for
// like.
// The plain integer cast of n elements, vectorised by the compiler for AVX2 where the CPU has it (as the
// backend's conversions are), else for the baseline ISA: a ceiling slower than the backend would be no ceiling.
template <typename S, typename D>
void ceiling_cast_base(const S* s, D* d, int64_t n) {
    for (int64_t i = 0; i < n; i++) d[i] = (D) s[i];
}

#ifdef CB_X86
template <typename S, typename D>
__attribute__((target("avx2"))) void ceiling_cast_avx2(const S* s, D* d, int64_t n) {
    for (int64_t i = 0; i < n; i++) d[i] = (D) s[i];
}
#endif

template <typename S, typename D>
void ceiling_cast(const S* s, D* d, int64_t n) {
#ifdef CB_X86
    if (kHaveAvx2) {
        ceiling_cast_avx2(s, d, n);
        return;
    }
#endif
    ceiling_cast_base(s, d, n);
}

template <typename S, typename D>
int32_t ceiling_rows(const void* values, const int64_t* offsets, const int64_t* indices, int64_t batch, int64_t L,
                     void* out, int32_t* lengths, uint8_t* mask, int32_t threads) {
    // the rows' geometry in buffers of the calling thread, kept between calls: cb_pad allocates nothing per
    // batch, so neither may its ceiling (two vectors per call were a malloc and free the backend never pays).
    // Plain pointers for the row function, which may run on a pool worker with thread_locals of its own.
    thread_local std::vector<int64_t> t_begin, t_len;
    if ((int64_t) t_begin.size() < batch) {
        t_begin.resize((size_t) batch);
        t_len.resize((size_t) batch);
    }
    int64_t* const begin = t_begin.data();
    int64_t* const len = t_len.data();
    const volatile S* touch = (const volatile S*) values;   // each row's first token, as cb_pad's touch_rows
    for (int64_t b = 0; b < batch; b++) {
        int64_t s = indices[b];
        begin[b] = offsets[s];
        len[b] = std::min(offsets[s + 1] - begin[b], L);
        if (len[b] > 0) (void) touch[begin[b]];
    }
    const S* v = (const S*) values;
    int64_t error = 0;
    return for_rows(batch, batch * L * (int64_t) sizeof(D), threads, &error, [&](int64_t b, int64_t*) {
        int64_t n = len[b];
        D* row = (D*) out + b * L;
        if (sizeof(S) == sizeof(D)) {
            memcpy(row, v + begin[b], (size_t) n * sizeof(D));
        } else {
            ceiling_cast(v + begin[b], row, n);
        }
        memset(row + n, 0, (size_t) (L - n) * sizeof(D));
        lengths[b] = (int32_t) n;
        memset(mask + b * L, 1, (size_t) n);
        memset(mask + b * L + n, 0, (size_t) (L - n));
        return (int32_t) CB_OK;
    });
}

template <typename S>
int32_t ceiling_to(int32_t dst_size, const void* values, const int64_t* offsets, const int64_t* indices, int64_t batch,
                   int64_t L, void* out, int32_t* lengths, uint8_t* mask, int32_t threads) {
    switch (dst_size) {
        case 2: return ceiling_rows<S, uint16_t>(values, offsets, indices, batch, L, out, lengths, mask, threads);
        case 4: return ceiling_rows<S, uint32_t>(values, offsets, indices, batch, L, out, lengths, mask, threads);
        case 8: return ceiling_rows<S, uint64_t>(values, offsets, indices, batch, L, out, lengths, mask, threads);
        default: return CB_ERR_ARGUMENT;
    }
}

}  // namespace

extern "C" int32_t cb_ceiling_pad(const void* values, int32_t src_size, const int64_t* offsets, const int64_t* indices,
                                  int64_t batch, int64_t L, int32_t dst_size, void* out, int32_t* lengths, uint8_t* mask,
                                  int32_t threads) {
    switch (src_size) {
        case 2: return ceiling_to<uint16_t>(dst_size, values, offsets, indices, batch, L, out, lengths, mask, threads);
        case 4: return ceiling_to<uint32_t>(dst_size, values, offsets, indices, batch, L, out, lengths, mask, threads);
        case 8: return ceiling_to<uint64_t>(dst_size, values, offsets, indices, batch, L, out, lengths, mask, threads);
        default: return CB_ERR_ARGUMENT;
    }
}

extern "C" void cb_copy(void* dst, const void* src, int64_t bytes) {
    if (bytes > 0) memcpy(dst, src, (size_t) bytes);
}
