// test_cubatch.cpp: libcubatch's CPU twin against plain references (run by `make test`, which the Maven
// build runs). Conversions are checked against the compiler's own _Float16 and a textbook bfloat16
// rounding; padding against a per-element reference written from the Keras semantics, on an edge table
// and seeded random cases, with outputs pre-filled by a sentinel so unwritten or overwritten bytes show.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "cubatch.h"
#include "cb_collate.cuh"
#include "cb_pad.cuh"

// GCC before 13 has no _Float16 in C++ on aarch64 (the cross build, tested under qemu): its __fp16 is the same
// IEEE binary16 with the same conversions (FCVT rounds to nearest even), so it serves as the reference there.
#if defined(__aarch64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#define _Float16 __fp16
#endif

static int failures = 0;
#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            if (failures++ < 20) {                                             \
                fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
                fprintf(stderr, __VA_ARGS__);                                  \
                fprintf(stderr, "\n");                                         \
            }                                                                  \
        }                                                                      \
    } while (0)

static uint32_t half_of(double d, int* overflow) { return cb_double_to_small_float(d, 5, 10, overflow); }
static uint32_t bf16_of(double d, int* overflow) { return cb_double_to_small_float(d, 8, 7, overflow); }

static void test_known_conversions() {
    int o = 0;
    CHECK(half_of(1.0, &o) == 0x3c00, "1.0");
    CHECK(half_of(-2.0, &o) == 0xc000, "-2.0");
    CHECK(half_of(65504.0, &o) == 0x7bff && !o, "max");
    CHECK(half_of(65519.0, &o) == 0x7bff && !o, "rounds down to max");
    o = 0;
    half_of(65520.0, &o);
    CHECK(o == 1, "65520 overflows");
    o = 0;
    CHECK(half_of(std::ldexp(1.0, -24), &o) == 0x0001, "smallest subnormal");
    CHECK(half_of(std::ldexp(1.0, -25), &o) == 0x0000, "tie to even rounds to 0");
    CHECK(half_of(std::ldexp(1.5, -25), &o) == 0x0001, "above the tie rounds up");
    CHECK(half_of(-0.0, &o) == 0x8000, "-0");
    CHECK(half_of(NAN, &o) == 0x7e00, "canonical NaN");
    CHECK(half_of(-INFINITY, &o) == 0xfc00 && !o, "-inf is not an overflow");
    CHECK(bf16_of(1.0, &o) == 0x3f80, "bf16 1.0");
    CHECK(bf16_of(NAN, &o) == 0x7fc0, "bf16 NaN");
    CHECK(!o, "no overflow so far");
}

static void test_half_exhaustive_and_random() {
    int o = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        double d = cb_small_float_to_double(h, 5, 10);
        _Float16 ref;
        uint16_t rb = (uint16_t) h;
        memcpy(&ref, &rb, 2);
        if (std::isnan(d)) {
            CHECK(std::isnan((double) ref), "NaN %04x", h);
            continue;
        }
        CHECK(d == (double) ref || (d == 0 && (double) ref == 0), "decode %04x: %g vs %g", h, d, (double) ref);
        CHECK(half_of(d, &o) == h, "round trip %04x", h);
    }
    std::mt19937_64 rng(42);
    for (int i = 0; i < 2000000; i++) {
        double d;
        if (i % 2) {
            uint64_t bits = rng();
            memcpy(&d, &bits, 8);
        } else {
            d = std::ldexp((double) (int64_t) (rng() >> 11) - (double) (1LL << 52), (int) (rng() % 60) - 80);
        }
        if (std::isnan(d)) continue;
        o = 0;
        uint32_t ours = half_of(d, &o);
        _Float16 ref = (_Float16) d;
        uint16_t rb;
        memcpy(&rb, &ref, 2);
        if (std::isinf((double) ref) && !std::isinf(d)) {
            CHECK(o == 1, "overflow expected for %a", d);
        } else {
            CHECK(ours == rb, "double %a: ours %04x, _Float16 %04x", d, ours, rb);
        }
    }
    for (int i = 0; i < 2000000; i++) {
        uint32_t fb = (uint32_t) rng();
        float f;
        memcpy(&f, &fb, 4);
        if (std::isnan(f)) continue;
        uint32_t ref = (fb + 0x7fff + ((fb >> 16) & 1)) >> 16;   // textbook RNE truncation of float bits
        o = 0;
        uint32_t ours = bf16_of((double) f, &o);
        if ((ref & 0x7fff) == 0x7f80 && !std::isinf(f)) {
            CHECK(o == 1, "bf16 overflow expected for %a", (double) f);
        } else {
            CHECK(ours == ref, "float %a: ours %04x, reference %04x", (double) f, ours, ref);
        }
    }
}

static void test_integer_checks() {
    unsigned char out[8];
    cb_scalar s = {0, 128, 0};
    CHECK(cb_store(out, CB_INT8, 0, s) == CB_ERR_VALUE_DOES_NOT_FIT, "128 into int8");
    s.i = -129;
    CHECK(cb_store(out, CB_INT8, 0, s) == CB_ERR_VALUE_DOES_NOT_FIT, "-129 into int8");
    s.i = 2;
    CHECK(cb_store(out, CB_BOOL, 0, s) == CB_ERR_VALUE_DOES_NOT_FIT, "2 into bool");
    cb_scalar f = {1, 0, 1.5};
    CHECK(cb_store(out, CB_INT32, 0, f) == CB_ERR_VALUE_DOES_NOT_FIT, "1.5 into int32");
    f.d = NAN;
    CHECK(cb_store(out, CB_INT64, 0, f) == CB_ERR_VALUE_DOES_NOT_FIT, "NaN into int64");
    f.d = 9223372036854775808.0;
    CHECK(cb_store(out, CB_INT64, 0, f) == CB_ERR_VALUE_DOES_NOT_FIT, "2^63 into int64");
    f.d = -9223372036854775808.0;
    CHECK(cb_store(out, CB_INT64, 0, f) == CB_OK, "-2^63 into int64");
    f.d = 3e38 * 10;
    CHECK(cb_store(out, CB_FLOAT32, 0, f) == CB_ERR_VALUE_DOES_NOT_FIT, "3e39 into float32");
    f.d = -7.0;
    CHECK(cb_store(out, CB_UINT16, 0, f) == CB_ERR_VALUE_DOES_NOT_FIT, "-7.0 into uint16");
}

// ---- padding against a reference -------------------------------------------------------------------

struct Case {
    std::vector<int32_t> values;      // int32 source
    std::vector<int64_t> offsets;
    int64_t features;
    std::vector<int64_t> indices;
    int64_t out_len, limit;
    int32_t pad_side, trunc_side;
    int32_t pad_value;
};

// Output element (b, t, f) straight from the definition: which source timestep, or padding.
static bool reference_element(const Case& c, int64_t b, int64_t t, int64_t f, int32_t* v, bool* real, int64_t* len) {
    int64_t s = c.indices[b];
    int64_t n = c.offsets[s + 1] - c.offsets[s];
    int64_t keep = std::min(n, c.limit);
    if (n > c.limit && c.trunc_side == CB_SIDE_NONE) return false;
    int64_t first_src = (n > c.limit && c.trunc_side == CB_SIDE_PRE) ? n - c.limit : 0;  // PRE keeps the tail
    int64_t first_dst = c.pad_side == CB_SIDE_PRE ? c.out_len - keep : 0;                // PRE pads in front
    *len = keep;
    *real = t >= first_dst && t < first_dst + keep;
    *v = *real ? c.values[(c.offsets[s] + first_src + (t - first_dst)) * c.features + f] : c.pad_value;
    return true;
}

static void run_case(const Case& c, int32_t threads, const char* what) {
    int64_t B = (int64_t) c.indices.size(), L = c.out_len, F = c.features;
    std::vector<int32_t> out(B * L * F + 2, 0x5a5a5a5a);
    std::vector<int32_t> lengths(B + 2, 0x5a5a5a5a), positions(B * L + 2, 0x5a5a5a5a);
    std::vector<uint8_t> mask(B * L + 2, 0x5a);
    int64_t err = -1;
    int32_t st = cb_pad(c.values.data(), CB_INT32, c.offsets.data(), 0, F, c.indices.data(), B, L, c.limit,
                        c.pad_side, c.trunc_side, CB_INT32, &c.pad_value, out.data() + 1, lengths.data() + 1,
                        mask.data() + 1, positions.data() + 1, threads, &err);
    bool too_long = false;
    int64_t first_too_long = -1;
    for (int64_t b = 0; b < B && !too_long; b++) {
        int32_t v = 0; bool real = false; int64_t len = 0;
        if (!reference_element(c, b, 0, 0, &v, &real, &len)) { too_long = true; first_too_long = b; }
    }
    if (too_long) {
        CHECK(st == CB_ERR_TOO_LONG && err == first_too_long, "%s: expected too long at row %lld, got %d/%lld",
              what, (long long) first_too_long, st, (long long) err);
        return;
    }
    CHECK(st == CB_OK, "%s: status %d", what, st);
    CHECK(out[0] == 0x5a5a5a5a && out[B * L * F + 1] == 0x5a5a5a5a, "%s: data guard overwritten", what);
    CHECK(mask[0] == 0x5a && mask[B * L + 1] == 0x5a, "%s: mask guard overwritten", what);
    CHECK(lengths[0] == 0x5a5a5a5a && lengths[B + 1] == 0x5a5a5a5a, "%s: lengths guard overwritten", what);
    for (int64_t b = 0; b < B; b++) {
        {
            int32_t v = 0; bool real = false; int64_t len = 0;
            reference_element(c, b, 0, 0, &v, &real, &len);
            CHECK(lengths[1 + b] == len, "%s: lengths[%lld] = %d, expected %lld (L = %lld)", what, (long long) b,
                  lengths[1 + b], (long long) len, (long long) L);
        }
        for (int64_t t = 0; t < L; t++) {
            for (int64_t f = 0; f < F; f++) {
                int32_t v = 0; bool real = false; int64_t len = 0;
                reference_element(c, b, t, f, &v, &real, &len);
                CHECK(out[1 + (b * L + t) * F + f] == v, "%s: data[%lld,%lld,%lld] = %d, expected %d", what,
                      (long long) b, (long long) t, (long long) f, out[1 + (b * L + t) * F + f], v);
                if (f == 0) {
                    CHECK(mask[1 + b * L + t] == (real ? 1 : 0), "%s: mask[%lld,%lld]", what, (long long) b, (long long) t);
                    int64_t first_dst = c.pad_side == CB_SIDE_PRE ? L - len : 0;
                    CHECK(positions[1 + b * L + t] == (real ? t - first_dst : 0), "%s: positions", what);
                }
            }
        }
    }
}

static Case make_case(std::mt19937_64& rng, const std::vector<int64_t>& lens, int64_t F, int64_t L, int64_t limit,
                      int32_t pad, int32_t trunc) {
    Case c;
    c.features = F;
    c.offsets.push_back(0);
    for (int64_t n : lens) c.offsets.push_back(c.offsets.back() + n);
    for (int64_t i = 0; i < c.offsets.back() * F; i++) c.values.push_back((int32_t) (rng() % 2000) - 1000);
    for (size_t i = 0; i < lens.size(); i++) c.indices.push_back((int64_t) (rng() % lens.size()));
    c.out_len = L;
    c.limit = limit;
    c.pad_side = pad;
    c.trunc_side = trunc;
    c.pad_value = -7;
    return c;
}

static void test_padding() {
    std::mt19937_64 rng(7);
    const int64_t L = 5;
    char what[128];
    // edge table: lengths 0, 1, L-1, L, L+1, with every side combination, F = 1 and 3, B = 1 and 5
    for (int32_t pad : {CB_SIDE_PRE, CB_SIDE_POST}) {
        for (int32_t trunc : {CB_SIDE_PRE, CB_SIDE_POST, CB_SIDE_NONE}) {
            for (int64_t F : {1, 3}) {
                std::vector<int64_t> lens = {0, 1, L - 1, L, L + 1};
                Case c = make_case(rng, lens, F, L, L, pad, trunc);
                c.indices = {0, 1, 2, 3, trunc == CB_SIDE_NONE ? 3 : 4};
                snprintf(what, sizeof what, "edge pad=%d trunc=%d F=%lld", pad, trunc, (long long) F);
                run_case(c, 1, what);
                run_case(c, 3, what);
                c.indices = {4};
                snprintf(what, sizeof what, "B=1 L+1 pad=%d trunc=%d F=%lld", pad, trunc, (long long) F);
                run_case(c, 1, what);
            }
        }
    }
    // L = 0 (every sample empty, batch-longest): rows still get their length
    for (int32_t pad : {CB_SIDE_PRE, CB_SIDE_POST}) {
        Case c = make_case(rng, {0, 0}, 1, 0, 0, pad, CB_SIDE_NONE);
        run_case(c, 2, "L = 0");
    }
    // seeded random cases: limit below L (pad to a multiple), varied lengths
    for (int i = 0; i < 3000; i++) {
        int64_t n = 1 + rng() % 12, F = 1 + rng() % 3, limit = rng() % 9, L = limit + rng() % 4;
        std::vector<int64_t> lens;
        for (int64_t k = 0; k < n; k++) lens.push_back((int64_t) (rng() % 12));
        Case c = make_case(rng, lens, F, L, limit, rng() % 2 ? CB_SIDE_PRE : CB_SIDE_POST, (int32_t) (rng() % 3));
        snprintf(what, sizeof what, "random case %d", i);
        run_case(c, 1 + (int32_t) (rng() % 4), what);
    }
}

static void test_conversion_in_pad_reports_first_bad_element() {
    std::vector<int64_t> values = {1, 2, 300, 4, 500};
    std::vector<int64_t> offsets = {0, 2, 5}, indices = {0, 1};
    int8_t pad = 0;
    std::vector<int8_t> out(8, 0x5a);
    int64_t err = -1;
    int32_t st = cb_pad(values.data(), CB_INT64, offsets.data(), 0, 1, indices.data(), 2, 4, 4, CB_SIDE_POST,
                        CB_SIDE_NONE, CB_INT8, &pad, out.data(), nullptr, nullptr, nullptr, 2, &err);
    CHECK(st == CB_ERR_VALUE_DOES_NOT_FIT && err == 4, "300 at output element 4: status %d err %lld", st, (long long) err);
}

// Large enough (> 4 MiB of output per thread) that cb_pad really splits rows over threads: results and
// the reported first failure must not depend on the thread count.
static void test_threads() {
    std::mt19937_64 rng(11);
    std::vector<int64_t> lens(64);
    for (auto& n : lens) n = 30000 + (int64_t) (rng() % 10000);
    Case c = make_case(rng, lens, 1, 40000, 40000, CB_SIDE_PRE, CB_SIDE_NONE);
    run_case(c, 4, "threads: 64 rows of 40000 int32");
    std::vector<int64_t> values(64 * 40000, 1), offsets(65), indices(64);
    for (int i = 0; i <= 64; i++) offsets[i] = i * 40000LL;
    for (int i = 0; i < 64; i++) indices[i] = i;
    values[50 * 40000 + 7] = 70000;   // row 50
    values[10 * 40000 + 9] = 70000;   // row 10: the first failure in output order (5 MiB of int16: 2 threads)
    int16_t pad = 0;
    std::vector<int16_t> out(64 * 40000);
    for (int32_t threads : {1, 2, 4, 8}) {
        int64_t err = -1;
        int32_t st = cb_pad(values.data(), CB_INT64, offsets.data(), 0, 1, indices.data(), 64, 40000, 40000,
                            CB_SIDE_POST, CB_SIDE_NONE, CB_INT16, &pad, out.data(), nullptr, nullptr, nullptr, threads, &err);
        CHECK(st == CB_ERR_VALUE_DOES_NOT_FIT && err == 10 * 40000 + 9, "threads %d: status %d err %lld", threads, st,
              (long long) err);
    }
}

// The worker pool under several callers at once (a loader's workers, each with its own collator): four
// threads pad batches big enough to split, 60 times each; one of them at a time gets the pool, the others run
// inline. Every result must equal the single-threaded one, and a failing row must still be the first.
static void test_pool_shared_by_callers() {
    const int64_t B = 48, L = 30000;
    std::vector<int32_t> values(B * L);
    for (int64_t i = 0; i < B * L; i++) values[i] = (int32_t) (i % 30011);
    std::vector<int64_t> offsets(B + 1), indices(B);
    for (int64_t i = 0; i <= B; i++) offsets[i] = i * L;
    for (int64_t i = 0; i < B; i++) indices[i] = (i * 7) % B;
    int32_t pad = -1;
    std::vector<int32_t> want(B * L);
    std::vector<uint8_t> want_mask(B * L);
    int64_t err = -1;
    CHECK(cb_pad(values.data(), CB_INT32, offsets.data(), 0, 1, indices.data(), B, L, L, CB_SIDE_POST, CB_SIDE_NONE,
                 CB_INT32, &pad, want.data(), nullptr, want_mask.data(), nullptr, 1, &err) == CB_OK, "pool: reference");
    std::vector<int> bad(4, 0);
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; t++) {
        callers.emplace_back([&, t] {
            std::vector<int32_t> out(B * L);
            std::vector<uint8_t> mask(B * L);
            std::vector<int16_t> narrow(B * L);
            for (int rep = 0; rep < 60; rep++) {
                int64_t e = -1;
                if (cb_pad(values.data(), CB_INT32, offsets.data(), 0, 1, indices.data(), B, L, L, CB_SIDE_POST,
                           CB_SIDE_NONE, CB_INT32, &pad, out.data(), nullptr, mask.data(), nullptr, 8, &e) != CB_OK ||
                    out != want || mask != want_mask) {
                    bad[t]++;
                }
                int16_t pad16 = 0;   // values up to 30010 fit int16 but for none: the first failure is row 0
                int32_t st = cb_pad(values.data(), CB_INT32, offsets.data(), 0, 1, indices.data(), B, L, L, CB_SIDE_POST,
                                    CB_SIDE_NONE, CB_INT8, &pad16, narrow.data(), nullptr, nullptr, nullptr, 8, &e);
                if (st != CB_ERR_VALUE_DOES_NOT_FIT || e != 128) bad[t]++;
            }
        });
    }
    for (auto& c : callers) c.join();
    for (int t = 0; t < 4; t++) CHECK(bad[t] == 0, "pool: caller %d got %d wrong results of 120", t, bad[t]);
}

// The pool as its worker count grows between jobs (a new worker must start from the current job, not take the
// last one for a new one), and in a forked child, which has the pool's fields but none of its threads: the
// child's split batch runs inline instead of waiting forever (alarm fails the test if it hangs).
static void test_pool_growth_and_fork() {
    const int64_t L = 200000;
    for (int64_t B : {8, 30, 8, 30, 16}) {   // int32 rows of 800 KB: 6.4 MB (2 workers), 24 MB (6), 12.8 MB (4)
        std::vector<int32_t> values(B * L);
        for (int64_t i = 0; i < B * L; i++) values[i] = (int32_t) (i % 1000003);
        std::vector<int64_t> offsets(B + 1), indices(B);
        for (int64_t i = 0; i <= B; i++) offsets[i] = i * L;
        for (int64_t i = 0; i < B; i++) indices[i] = B - 1 - i;
        std::vector<int32_t> out(B * L, -1);
        int32_t pad = 0;
        int64_t err = -1;
        CHECK(cb_pad(values.data(), CB_INT32, offsets.data(), 0, 1, indices.data(), B, L, L, CB_SIDE_POST, CB_SIDE_NONE,
                     CB_INT32, &pad, out.data(), nullptr, nullptr, nullptr, 8, &err) == CB_OK, "pool growth: status");
        bool same = true;
        for (int64_t b = 0; b < B && same; b++) same = memcmp(&out[b * L], &values[(B - 1 - b) * L], L * 4) == 0;
        CHECK(same, "pool growth: batch of %lld rows differs", (long long) B);
    }
    pid_t child = fork();
    if (child == 0) {
        alarm(60);
        const int64_t B = 16;
        std::vector<int32_t> values(B * L, 3), out(B * L, 0);
        std::vector<int64_t> offsets(B + 1), indices(B);
        for (int64_t i = 0; i <= B; i++) offsets[i] = i * L;
        for (int64_t i = 0; i < B; i++) indices[i] = i;
        int32_t pad = 0;
        int64_t err = -1;
        int32_t st = cb_pad(values.data(), CB_INT32, offsets.data(), 0, 1, indices.data(), B, L, L, CB_SIDE_POST,
                            CB_SIDE_NONE, CB_INT32, &pad, out.data(), nullptr, nullptr, nullptr, 8, &err);
        _exit(st == CB_OK && out == values ? 0 : 1);
    }
    int status = 0;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "pool after fork: the child's split batch (status %d)", status);
}

// The kernels' row functions (cb_pad_wide_part: 16-byte chunks; cb_pad_bits_part: typed elements;
// cb_pad_convert_part; cb_pad_masks_part), run on the CPU as a grid of `lanes` threads would run them (each
// lane its share i, i + lanes, ...), write the same bytes as cb_pad_row.
static void test_kernel_row_parts() {
    std::mt19937_64 rng(16);
    for (int i = 0; i < 2000; i++) {
        int64_t F = 1 + rng() % 3, L = 4 * (1 + rng() % 6), limit = rng() % (L + 1);
        int64_t lanes = 1 + rng() % 40;
        std::vector<int64_t> lens;
        for (int k = 0; k < 1 + (int) (rng() % 8); k++) lens.push_back((int64_t) (rng() % (L + 4)));
        Case c = make_case(rng, lens, F, L, limit, rng() % 2 ? CB_SIDE_PRE : CB_SIDE_POST,
                           rng() % 2 ? CB_SIDE_PRE : CB_SIDE_POST);
        int64_t B = (int64_t) c.indices.size();
        std::vector<int32_t> expected(B * L * F), wide(B * L * F, 0x5a5a5a5a), bits(B * L * F, 0x5a5a5a5a);
        std::vector<int16_t> conv_expected(B * L * F), conv(B * L * F, 0x5a5a);
        std::vector<uint8_t> mask_expected(B * L), mask(B * L, 7);
        std::vector<int32_t> pos_expected(B * L), pos(B * L, 7);
        int64_t err = -1;
        cb_pad(c.values.data(), CB_INT32, c.offsets.data(), 0, F, c.indices.data(), B, L, c.limit, c.pad_side,
               c.trunc_side, CB_INT32, &c.pad_value, expected.data(), nullptr, mask_expected.data(),
               pos_expected.data(), 1, &err);
        int16_t pad16 = (int16_t) c.pad_value;
        int32_t conv_status = cb_pad(c.values.data(), CB_INT32, c.offsets.data(), 0, F, c.indices.data(), B, L,
                                     c.limit, c.pad_side, c.trunc_side, CB_INT16, &pad16, conv_expected.data(),
                                     nullptr, nullptr, nullptr, 1, &err);
        cb_pad_args a = {c.values.data(), CB_INT32, c.offsets.data(), 0, F, c.indices.data(), B, L, c.limit,
                         c.pad_side, c.trunc_side, CB_INT32, &c.pad_value, nullptr, nullptr, mask.data(), pos.data()};
        cb_pad_args a16 = a;
        a16.dst_dtype = CB_INT16;
        a16.pad_value = &pad16;
        a16.out = conv.data();
        int64_t first_bad = -1;
        for (int64_t b = 0; b < B; b++) {
            cb_row_geometry g = cb_pad_geometry(&a, b);
            if (g.status != CB_OK) continue;
            for (int64_t lane = 0; lane < lanes; lane++) {
                a.out = wide.data();
                cb_row_span s = cb_pad_span(&a, &g, b);
                cb_pad_wide_part(&a, &s, lane, lanes);
                a.out = bits.data();
                s = cb_pad_span(&a, &g, b);
                cb_pad_bits_part(&a, &s, lane, lanes);
                cb_pad_masks_part(&a, &g, b, lane, lanes);
                s = cb_pad_span(&a16, &g, b);
                int64_t bad = cb_pad_convert_part(&a16, &s, b, lane, lanes);
                if (bad >= 0 && (first_bad < 0 || bad < first_bad)) first_bad = bad;
            }
        }
        if (err == -1 && conv_status == CB_OK) {
            CHECK(memcmp(expected.data(), wide.data(), expected.size() * 4) == 0, "wide case %d (L=%lld F=%lld)", i,
                  (long long) L, (long long) F);
            CHECK(memcmp(expected.data(), bits.data(), expected.size() * 4) == 0, "bits case %d", i);
            CHECK(mask == mask_expected && pos == pos_expected, "masks case %d", i);
            CHECK(first_bad == -1 && conv == conv_expected, "convert case %d", i);
        } else if (conv_status == CB_ERR_VALUE_DOES_NOT_FIT) {
            CHECK(first_bad == err, "convert case %d: first bad %lld, cb_pad %lld", i, (long long) first_bad,
                  (long long) err);
        }
    }
}

// Rank-major row o = r * B + i takes plan-order row i * W + r: every source row exactly once.
// indices == NULL means row b is sample b (the CUDA backend's compact layout): the same bytes as 0..B-1.
static void test_null_indices() {
    std::mt19937_64 rng(11);
    for (int trial = 0; trial < 50; trial++) {
        std::vector<int64_t> lens;
        int64_t B = 1 + (int64_t) (rng() % 9);
        for (int64_t b = 0; b < B; b++) lens.push_back((int64_t) (rng() % 12));
        int64_t F = 1 + (int64_t) (rng() % 3), L = 1 + (int64_t) (rng() % 10);
        Case c = make_case(rng, lens, F, L, L, (int32_t) (rng() % 2), (int32_t) (rng() % 2));
        for (int64_t b = 0; b < B; b++) c.indices[b] = b;
        std::vector<int32_t> o1(B * L * F), o2(B * L * F), l1(B), l2(B), p1(B * L), p2(B * L);
        std::vector<uint8_t> m1(B * L), m2(B * L);
        int64_t e1 = -1, e2 = -1;
        int32_t s1 = cb_pad(c.values.data(), CB_INT32, c.offsets.data(), 0, F, c.indices.data(), B, L, c.limit,
                            c.pad_side, c.trunc_side, CB_INT32, &c.pad_value, o1.data(), l1.data(), m1.data(), p1.data(), 2, &e1);
        int32_t s2 = cb_pad(c.values.data(), CB_INT32, c.offsets.data(), 0, F, nullptr, B, L, c.limit,
                            c.pad_side, c.trunc_side, CB_INT32, &c.pad_value, o2.data(), l2.data(), m2.data(), p2.data(), 2, &e2);
        CHECK(s1 == CB_OK && s2 == CB_OK && o1 == o2 && l1 == l2 && m1 == m2 && p1 == p2,
              "pad with NULL indices differs from 0..B-1 (trial %d)", trial);
        std::vector<int16_t> t1(B * F), t2(B * F);
        std::vector<int32_t> rows(c.values.begin(), c.values.begin() + std::min<int64_t>(B * F, c.values.size()));
        rows.resize(B * F, 3);
        s1 = cb_stack(rows.data(), CB_INT32, F, c.indices.data(), B, CB_INT16, t1.data(), 1, &e1);
        s2 = cb_stack(rows.data(), CB_INT32, F, nullptr, B, CB_INT16, t2.data(), 1, &e2);
        CHECK(s1 == CB_OK && s2 == CB_OK && t1 == t2, "stack with NULL indices differs (trial %d)", trial);
    }
    int64_t layout[32];
    CHECK(cb_struct_layout(0, layout, 32) == 18 && layout[0] == (int64_t) sizeof(cb_pad_args), "pad args layout");
    CHECK(cb_struct_layout(1, layout, 32) == 8 && layout[0] == (int64_t) sizeof(cb_stack_args), "stack args layout");
    CHECK(cb_struct_layout(3, layout, 32) == -1 && cb_struct_layout(0, layout, 3) == -1, "layout refuses bad input");
}

// A bool byte other than 0 or 1 (a .npy written by hand, or a view of uint8 data) is true, 1, as NumPy
// reads it: every load normalises it, and bool is never bit-copied, so pad, stack and the 16-byte
// kernel path all write 1.
static void test_bool_bytes_normalise() {
    unsigned char raw[6] = {0, 1, 2, 255, 128, 0};
    for (int i = 0; i < 6; i++) {
        cb_scalar s = cb_load(raw, CB_BOOL, i);
        CHECK(!s.is_float && s.i == (raw[i] != 0), "bool byte %d loads as %lld", raw[i], (long long) s.i);
    }
    CHECK(!cb_bit_copy(CB_BOOL, CB_BOOL) && cb_bit_copy(CB_UINT8, CB_UINT8) && !cb_bit_copy(CB_UINT8, CB_INT8),
          "bool is never a bit copy");
    std::vector<int64_t> offsets = {0, 4, 6}, indices = {0, 1};
    for (int32_t dst : {(int32_t) CB_BOOL, (int32_t) CB_INT32, (int32_t) CB_UINT8, (int32_t) CB_FLOAT32}) {
        int size = cb_dtype_size(dst);
        std::vector<unsigned char> out(2 * 4 * size, 0x5a), pad(8, 0);
        int64_t err = -1;
        int32_t st = cb_pad(raw, CB_BOOL, offsets.data(), 0, 1, indices.data(), 2, 4, 4, CB_SIDE_POST, CB_SIDE_NONE,
                            dst, pad.data(), out.data(), nullptr, nullptr, nullptr, 1, &err);
        CHECK(st == CB_OK, "bool to dtype %d: status %d", dst, st);
        double want[8] = {0, 1, 1, 1, 1, 0, 0, 0};
        for (int e = 0; e < 8; e++) {
            cb_scalar v = cb_load(out.data(), dst, e);
            double got = v.is_float ? v.d : (double) v.i;
            CHECK(got == want[e] && (dst != CB_BOOL || out[e] <= 1), "bool to dtype %d, element %d: %g", dst, e, got);
        }
        std::vector<unsigned char> stacked(6 * size, 0x5a);
        st = cb_stack(raw, CB_BOOL, 3, nullptr, 2, dst, stacked.data(), 1, &err);
        for (int e = 0; e < 6 && st == CB_OK; e++) {
            cb_scalar v = cb_load(stacked.data(), dst, e);
            CHECK((v.is_float ? v.d : (double) v.i) == (raw[e] != 0) && (dst != CB_BOOL || stacked[e] <= 1),
                  "stack bool to dtype %d, element %d", dst, e);
        }
        CHECK(st == CB_OK, "stack bool to dtype %d: status %d", dst, st);
    }
    // the generic kernel's row function, one lane per element
    cb_pad_args a = {raw, CB_BOOL, offsets.data(), 0, 1, indices.data(), 2, 4, 4, CB_SIDE_POST, CB_SIDE_NONE, CB_BOOL,
                     raw, nullptr, nullptr, nullptr, nullptr};
    unsigned char out[8];
    a.out = out;
    for (int64_t b = 0; b < 2; b++) {
        cb_row_geometry g = cb_pad_geometry(&a, b);
        cb_row_span s = cb_pad_span(&a, &g, b);
        for (int64_t t = 0; t < 4; t++) CHECK(cb_pad_convert_part(&a, &s, b, t, 4) == -1, "element");
    }
    unsigned char want[8] = {0, 1, 1, 1, 1, 0, 0, 0};
    CHECK(memcmp(out, want, 8) == 0, "cb_pad_convert_part on bool bytes");
}

extern "C" int64_t cb_test_fast_convert(const void* values, int32_t src_dtype, void* out, int32_t dst_dtype,
                                        int64_t count, int32_t vector);

// The native backend's fast converting copies (cubatch.cpp FastConvert: F16C or a bit-level float16,
// bfloat16 by bits, integer casts) write the bytes of cb_convert_run and fail at the same first element:
// random float bits, every float16 value widened, NaNs, infinities, the float16 overflow edge and integers
// around 2^24, 2^31 and 2^63, in runs that are and are not multiples of 8 and of the 256-element chunk.
static void test_fast_conversions() {
    std::mt19937_64 rng(13);
    std::vector<float> floats;
    for (uint32_t h = 0; h < 65536; h++) floats.push_back((float) cb_small_float_to_double(h, 5, 10));
    for (int i = 0; i < 200000; i++) {
        uint32_t bits = (uint32_t) rng();
        if (i % 3 == 0) bits = (bits & 0x807fffffu) | ((uint32_t) (100 + rng() % 50) << 23);   // near float16's range
        float f;
        memcpy(&f, &bits, 4);
        floats.push_back(f);
    }
    for (float f : {65504.0f, 65519.99f, 65520.0f, -65520.0f, 3.4e38f, 5.96e-8f, 2.98e-8f, 2.99e-8f, 0.0f, -0.0f})
        floats.push_back(f);
    // NaNs of both signs and every payload size (a negative NaN from 0xffff8001 wraps the bfloat16 rounding sum
    // around 2^32), infinities and the bfloat16 overflow edge, spread through the array so that runs meet them
    for (int rep = 0; rep < 64; rep++) {
        for (uint32_t bits : {0xffffffffu, 0xffff8001u, 0xffff8000u, 0xfffff000u, 0xff800001u, 0xffc00000u, 0x7fffffffu,
                              0x7fff8001u, 0x7f800001u, 0x7fc00000u, 0x7f800000u, 0xff800000u, 0x7f7f8000u, 0x7f7f7fffu,
                              0xff7f8000u, 0xff7f7fffu}) {
            float f;
            memcpy(&f, &bits, 4);
            floats.insert(floats.begin() + (std::ptrdiff_t) (rng() % floats.size()), f);
        }
    }
    std::vector<int64_t> ints;
    for (int64_t edge : {0LL, 1LL, 65504LL, 65519LL, 65520LL, 16777215LL, 16777216LL, 16777217LL, 2147483647LL,
                         (long long) INT64_MAX, 33554435LL}) {
        ints.push_back(edge);
        ints.push_back(-edge);
    }
    for (int i = 0; i < 100000; i++) ints.push_back((int64_t) (rng() % 70000) - 35000);
    for (int i = 0; i < 1000; i++) ints.push_back((int64_t) (rng() % (1LL << 26)) - (1LL << 25));
    // the edges again, spread through the array, so that random runs meet them at every lane of a vector step
    for (int rep = 0; rep < 16; rep++) {
        for (int64_t edge : {65504LL, 65505LL, 65519LL, 65520LL, 16777215LL, 16777216LL, 16777217LL}) {
            for (int64_t v : {edge, -edge}) ints.insert(ints.begin() + (std::ptrdiff_t) (rng() % ints.size()), v);
        }
    }
    auto check = [&](const void* src, int32_t sd, size_t n, const char* what) {
        for (int32_t dd : {(int32_t) CB_FLOAT32, (int32_t) CB_FLOAT16, (int32_t) CB_BFLOAT16}) {
            size_t ds = (size_t) cb_dtype_size(dd);
            // whole runs of several lengths, starting anywhere: the first failure must agree
            for (int trial = 0; trial < 300; trial++) {
                size_t from = (size_t) (rng() % n), len = std::min(n - from, (size_t) (1 + rng() % 700));
                const unsigned char* s0 = (const unsigned char*) src + from * (size_t) cb_dtype_size(sd);
                std::vector<unsigned char> fast(len * ds, 0x5a), ref(len * ds, 0x5a);
                cb_pad_args a = {};
                a.values = s0;
                a.src_dtype = sd;
                a.out = ref.data();
                a.dst_dtype = dd;
                int64_t want = cb_convert_run(&a, 0, 0, (int64_t) len);
                for (int32_t vector : {1, 0}) {   // the fused vector passes (where the CPU has them), the chunks
                    std::fill(fast.begin(), fast.end(), 0x5a);
                    int64_t got = cb_test_fast_convert(s0, sd, fast.data(), dd, (int64_t) len, vector);
                    CHECK(got == want, "%s -> dtype %d (vector %d): first bad %lld, want %lld", what, dd, vector,
                          (long long) got, (long long) want);
                    if (want < 0) {   // on a failure the output is unspecified (the batch is an error): only where
                        CHECK(fast == ref, "%s -> dtype %d (vector %d): bytes differ (run of %zu from %zu)", what, dd,
                              vector, len, from);
                    }
                }
            }
        }
    };
    // float32 source, with the values that fail (overflow) dropped for the byte comparison of long runs
    std::vector<float> finite_small;
    for (float f : floats) if (!(std::fabs(f) >= 65520.0f) || f != f) finite_small.push_back(f);
    check(floats.data(), CB_FLOAT32, floats.size(), "float32 (all)");
    check(finite_small.data(), CB_FLOAT32, finite_small.size(), "float32 (in float16 range)");
    std::vector<int32_t> i32;
    for (int64_t v : ints) if (v >= INT32_MIN && v <= INT32_MAX) i32.push_back((int32_t) v);
    check(i32.data(), CB_INT32, i32.size(), "int32");
    check(ints.data(), CB_INT64, ints.size(), "int64");
}


// cb_pad touches each row's first token before copying (touch_rows): never for an empty row, whose offset may be
// the end of the values. Here the values end exactly where an inaccessible page begins, so a touch of the empty
// last sample, or of any element past the end, is a SIGSEGV that stops the test.
static void test_touch_stays_inside_the_values() {
    const long page = sysconf(_SC_PAGESIZE);
    const int64_t tokens = 3 * 1024;   // samples of 1000, 10 and 2062 tokens, then an empty one: 3 pages of int32
    unsigned char* map = (unsigned char*) mmap(nullptr, (size_t) (4 * page), PROT_READ | PROT_WRITE,
                                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED, "mmap");
    if (map == MAP_FAILED) return;
    CHECK(mprotect(map + 3 * page, (size_t) page, PROT_NONE) == 0, "mprotect");
    int32_t* values = (int32_t*) (map + 3 * page) - tokens;
    for (int64_t i = 0; i < tokens; i++) values[i] = (int32_t) i;
    const int64_t offsets[] = {0, 1000, 1010, tokens, tokens};
    const int64_t indices[] = {3, 1, 3, 0, 2, 3};
    const int64_t B = 6, L = tokens - 1010;
    std::vector<int32_t> out(B * L, -1), lengths(B, -1);
    std::vector<uint8_t> mask(B * L, 7);
    int32_t pad = 9;
    int64_t err = -1;
    int32_t s = cb_pad(values, CB_INT32, offsets, 0, 1, indices, B, L, L, CB_SIDE_POST, CB_SIDE_NONE, CB_INT32, &pad,
                       out.data(), lengths.data(), mask.data(), nullptr, 1, &err);
    CHECK(s == CB_OK && lengths[0] == 0 && lengths[1] == 10 && lengths[3] == 1000 && lengths[4] == L && lengths[5] == 0,
          "pad of a batch with empty rows at the end of the values: status %d", s);
    CHECK(out[0] == 9 && out[L] == 1000 && out[3 * L + 999] == 999 && out[4 * L + L - 1] == tokens - 1 && out[6 * L - 1] == 9,
          "the rows' tokens and padding");
    munmap(map, (size_t) (4 * page));
}

int main() {
    test_fast_conversions();
    test_known_conversions();
    test_bool_bytes_normalise();
    test_half_exhaustive_and_random();
    test_integer_checks();
    test_padding();
    test_conversion_in_pad_reports_first_bad_element();
    test_threads();
    test_pool_shared_by_callers();
    test_pool_growth_and_fork();
    test_kernel_row_parts();
    test_null_indices();
    test_touch_stays_inside_the_values();
    if (failures) {
        fprintf(stderr, "test_cubatch: %d failed checks\n", failures);
        return 1;
    }
    printf("test_cubatch: all checks passed\n");
    return 0;
}
