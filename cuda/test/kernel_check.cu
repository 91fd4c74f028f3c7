// kernel_check.cu: runs every kernel of cb_kernels.cu on seeded random and edge inputs and compares the
// device's bytes with the CPU twin (the same cb_*.cuh functions compiled for the host). Small on purpose:
// bench/gpu-check.sh runs it under compute-sanitizer (memcheck, racecheck), where every access is checked.
// Built by `make -C cuda` in every build (so it cannot rot); it needs a GPU only to run.
// Exit codes: 0 all equal, 1 a mismatch or CUDA error, 77 no CUDA device (skipped, with the reason).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "../cb_kernels.cu"

static int failures = 0;

#define CUDA_OK(call)                                                                          \
    do {                                                                                       \
        cudaError_t e_ = (call);                                                               \
        if (e_ != cudaSuccess) {                                                               \
            std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            std::exit(1);                                                                      \
        }                                                                                      \
    } while (0)

template <typename T>
static T* to_device(const std::vector<T>& v) {
    T* d = nullptr;
    CUDA_OK(cudaMalloc(&d, std::max<size_t>(1, v.size() * sizeof(T))));
    if (!v.empty()) CUDA_OK(cudaMemcpy(d, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
    return d;
}

template <typename T>
static std::vector<T> to_host(const T* d, size_t n) {
    std::vector<T> v(n);
    if (n) CUDA_OK(cudaMemcpy(v.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
    return v;
}

struct PadCase {
    std::vector<int32_t> values;   // int32 source
    std::vector<int64_t> offsets;
    std::vector<int64_t> indices;  // empty: NULL (compact layout)
    int64_t batch, features, out_len, limit;
    int32_t pad_side, trunc_side, dst_dtype;
};

// One case on the device (kernel `wide` = cb_pad_kernel16 when eligible) and on the CPU; compares bytes.
static void check_pad(const PadCase& c, bool wide, const char* what) {
    int dsize = cb_dtype_size(c.dst_dtype);
    int64_t B = c.batch, L = c.out_len, F = c.features;
    size_t data_bytes = (size_t) (B * L * F * dsize);
    std::vector<unsigned char> pad_value(8, 0);
    int32_t pv = -3;
    cb_store(pad_value.data(), c.dst_dtype, 0, cb_load(&pv, CB_INT32, 0));

    cb_pad_args h = {c.values.data(), CB_INT32, c.offsets.data(), 0, F, c.indices.empty() ? nullptr : c.indices.data(),
                     B, L, c.limit, c.pad_side, c.trunc_side, c.dst_dtype, pad_value.data(), nullptr, nullptr,
                     nullptr, nullptr};
    std::vector<unsigned char> cpu_out(data_bytes + 1);
    std::vector<int32_t> cpu_len(B + 1), cpu_pos(B * L + 1);
    std::vector<uint8_t> cpu_mask(B * L + 1);
    h.out = cpu_out.data();
    h.lengths = cpu_len.data();
    h.mask = cpu_mask.data();
    h.positions = cpu_pos.data();
    int cpu_status = CB_OK;
    int64_t cpu_bad = -1;
    for (int64_t b = 0; b < B && cpu_status == CB_OK; b++) cpu_status = cb_pad_row(&h, b, &cpu_bad);

    cb_pad_args d = h;
    d.values = to_device(c.values);
    d.offsets = to_device(c.offsets);
    d.indices = c.indices.empty() ? nullptr : to_device(c.indices);
    d.pad_value = to_device(pad_value);
    CUDA_OK(cudaMalloc(&d.out, std::max<size_t>(16, data_bytes)));
    CUDA_OK(cudaMalloc(&d.lengths, std::max<int64_t>(1, B) * 4));
    CUDA_OK(cudaMalloc(&d.mask, std::max<int64_t>(1, B * L)));
    CUDA_OK(cudaMalloc(&d.positions, std::max<int64_t>(1, B * L) * 4));
    unsigned long long* errors = nullptr;
    CUDA_OK(cudaMalloc(&errors, 16));
    CUDA_OK(cudaMemset(errors, 0xff, 16));
    if (wide) {
        cb_pad_kernel16<<<dim3(3, 5), 96>>>(d, errors + 1);
    } else {
        cb_pad_kernel<<<dim3(2, 7), 96>>>(d, errors, errors + 1);
    }
    CUDA_OK(cudaGetLastError());
    CUDA_OK(cudaDeviceSynchronize());
    std::vector<unsigned long long> err = to_host(errors, 2);
    if (cpu_status == CB_ERR_TOO_LONG) {
        if (err[1] != (unsigned long long) cpu_bad) {
            std::fprintf(stderr, "%s: too-long row %llu on the device, %lld on the CPU\n", what, err[1], (long long) cpu_bad);
            failures++;
        }
    } else if (cpu_status == CB_ERR_VALUE_DOES_NOT_FIT) {
        if (err[0] != (unsigned long long) cpu_bad) {
            std::fprintf(stderr, "%s: bad value at %llu on the device, %lld on the CPU\n", what, err[0], (long long) cpu_bad);
            failures++;
        }
    } else {
        bool same = err[0] == ~0ull && err[1] == ~0ull &&
                    to_host((unsigned char*) d.out, data_bytes) == std::vector<unsigned char>(cpu_out.begin(), cpu_out.begin() + data_bytes) &&
                    to_host(d.lengths, B) == std::vector<int32_t>(cpu_len.begin(), cpu_len.begin() + B) &&
                    to_host(d.mask, B * L) == std::vector<uint8_t>(cpu_mask.begin(), cpu_mask.begin() + B * L) &&
                    to_host(d.positions, B * L) == std::vector<int32_t>(cpu_pos.begin(), cpu_pos.begin() + B * L);
        if (!same) {
            std::fprintf(stderr, "%s: device bytes differ from the CPU twin\n", what);
            failures++;
        }
    }
    CUDA_OK(cudaFree((void*) d.values));
    CUDA_OK(cudaFree((void*) d.offsets));
    if (d.indices) CUDA_OK(cudaFree((void*) d.indices));
    CUDA_OK(cudaFree((void*) d.pad_value));
    CUDA_OK(cudaFree(d.out));
    CUDA_OK(cudaFree(d.lengths));
    CUDA_OK(cudaFree(d.mask));
    CUDA_OK(cudaFree(d.positions));
    CUDA_OK(cudaFree(errors));
}

static PadCase random_case(std::mt19937_64& rng, bool compact) {
    PadCase c;
    c.batch = (int64_t) (rng() % 9);
    int64_t samples = compact ? c.batch : 1 + (int64_t) (rng() % 12);
    c.features = 1 + (int64_t) (rng() % 3);
    c.offsets.push_back(0);
    int64_t longest = 0;
    for (int64_t s = 0; s < samples; s++) {
        int64_t n = (int64_t) (rng() % 20);
        longest = std::max(longest, n);
        c.offsets.push_back(c.offsets.back() + n);
    }
    for (int64_t i = 0; i < c.offsets.back() * c.features; i++) c.values.push_back((int32_t) (rng() % 400) - 200);
    if (!compact) for (int64_t b = 0; b < c.batch; b++) c.indices.push_back((int64_t) (rng() % samples));
    c.out_len = (int64_t) (rng() % (longest + 3));
    c.limit = c.out_len;
    c.pad_side = (int32_t) (rng() % 2);
    c.trunc_side = (int32_t) (rng() % 3);
    static const int32_t dtypes[] = {CB_INT32, CB_INT8, CB_INT64, CB_FLOAT16, CB_FLOAT32, CB_BFLOAT16, CB_UINT8};
    c.dst_dtype = dtypes[rng() % 7];
    return c;
}

static void check_stack(std::mt19937_64& rng, int trial) {
    int64_t B = (int64_t) (rng() % 9), N = 1 + (int64_t) (rng() % 10), row = (int64_t) (rng() % 7);
    std::vector<float> values(N * row);
    for (auto& v : values) v = (float) ((int) (rng() % 600) - 300) / 2.0f;
    std::vector<int64_t> indices(B);
    for (auto& i : indices) i = (int64_t) (rng() % N);
    int32_t dst = trial % 2 ? CB_FLOAT16 : CB_INT32;
    int dsize = cb_dtype_size(dst);
    cb_stack_args h = {values.data(), CB_FLOAT32, row, indices.data(), B, dst, nullptr};
    std::vector<unsigned char> cpu(B * row * dsize + 1);
    h.out = cpu.data();
    int status = CB_OK;
    int64_t bad = -1;
    for (int64_t b = 0; b < B && status == CB_OK; b++) status = cb_stack_row(&h, b, &bad);
    cb_stack_args d = h;
    d.values = to_device(values);
    d.indices = to_device(indices);
    CUDA_OK(cudaMalloc(&d.out, std::max<int64_t>(1, B * row * dsize)));
    unsigned long long* error = nullptr;
    CUDA_OK(cudaMalloc(&error, 8));
    CUDA_OK(cudaMemset(error, 0xff, 8));
    cb_stack_kernel<<<5, 64>>>(d, error);
    CUDA_OK(cudaGetLastError());
    CUDA_OK(cudaDeviceSynchronize());
    unsigned long long e = to_host(error, 1)[0];
    bool same = status == CB_OK
            ? e == ~0ull && to_host((unsigned char*) d.out, B * row * dsize) == std::vector<unsigned char>(cpu.begin(), cpu.end() - 1)
            : e == (unsigned long long) bad;
    if (!same) {
        std::fprintf(stderr, "stack trial %d: device differs from the CPU twin\n", trial);
        failures++;
    }
    CUDA_OK(cudaFree((void*) d.values));
    CUDA_OK(cudaFree((void*) d.indices));
    CUDA_OK(cudaFree(d.out));
    CUDA_OK(cudaFree(error));
}

int main(int argc, char** argv) {
    int devices = 0;
    cudaError_t e = cudaGetDeviceCount(&devices);
    if (e != cudaSuccess || devices == 0) {
        std::printf("kernel_check: skipped: no CUDA device (%s)\n", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        return 77;
    }
    int trials = argc > 1 ? std::atoi(argv[1]) : 200;
    std::mt19937_64 rng(20261122);
    int cases = 0;
    for (int t = 0; t < trials; t++) {
        PadCase c = random_case(rng, t % 2 == 0);
        char what[64];
        std::snprintf(what, sizeof what, "pad trial %d", t);
        check_pad(c, false, what);
        cases++;
        // the 16-byte kernel where the host would choose it: same dtype, rows a multiple of 16 bytes
        if (c.dst_dtype == CB_INT32 && (c.out_len * c.features * 4) % 16 == 0) {
            std::snprintf(what, sizeof what, "pad16 trial %d", t);
            check_pad(c, true, what);
            cases++;
        }
        check_stack(rng, t);
        cases++;
    }
    // edges: a batch of 0, an empty output length, one long row truncated either way, rows of 16-byte multiples
    for (int32_t trunc : {CB_SIDE_PRE, CB_SIDE_POST, CB_SIDE_NONE}) {
        PadCase c{{}, {0, 40}, {}, 1, 1, 8, 8, CB_SIDE_POST, trunc, CB_INT32};
        for (int i = 0; i < 40; i++) c.values.push_back(i);
        check_pad(c, false, "edge: 40 into 8");
        check_pad(c, true, "edge16: 40 into 8");
        c.batch = 0;
        check_pad(c, false, "edge: batch 0");
        cases += 3;
    }
    CUDA_OK(cudaDeviceSynchronize());
    if (failures) {
        std::printf("kernel_check: %d of %d cases differ\n", failures, cases);
        return 1;
    }
    std::printf("kernel_check: %d cases, device bytes equal the CPU twin's\n", cases);
    return 0;
}
