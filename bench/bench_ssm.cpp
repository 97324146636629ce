#include "bench/bench_ssm.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <fmt/core.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "bench/random_model.hpp"
#include "bench/timing.hpp"
#include "models/cpu/mamba3_scan.hpp"
#include "models/cpu/selective_scan.hpp"
#include "models/cpu/ssd_scan.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"

namespace statestream::bench {

namespace {

std::vector<float> random_vector(std::size_t n, std::mt19937& rng, float low, float high) {
    std::uniform_real_distribution<float> dist(low, high);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

// p[i] *= scale over the whole vector, 16 floats per iteration with SSE where the compiler
// offers it (x86-64 always does), so the baseline is bound by memory, not by the loop.
void scale_in_place(std::vector<float>& v, float scale) noexcept {
    float* p = v.data();
    std::size_t i = 0;
#if defined(__SSE2__)
    const __m128 s = _mm_set1_ps(scale);
    for (; i + 16 <= v.size(); i += 16) {
        const __m128 a = _mm_mul_ps(_mm_loadu_ps(p + i), s);
        const __m128 b = _mm_mul_ps(_mm_loadu_ps(p + i + 4), s);
        const __m128 c = _mm_mul_ps(_mm_loadu_ps(p + i + 8), s);
        const __m128 d = _mm_mul_ps(_mm_loadu_ps(p + i + 12), s);
        _mm_storeu_ps(p + i, a);
        _mm_storeu_ps(p + i + 4, b);
        _mm_storeu_ps(p + i + 8, c);
        _mm_storeu_ps(p + i + 12, d);
    }
#endif
    for (; i < v.size(); ++i) p[i] *= scale;
}

// One table of state-update kernels against a copy of the same bytes and a scalar kernel.
class KernelTable {
public:
    KernelTable(std::size_t state_elems, double seconds) : elems_(state_elems), seconds_(seconds) {
        fmt::print("  {:<40} {:>10} {:>10} {:>13} {:>8} {:>9}\n", "case", "median us", "p99 us",
                   "ns/state elem", "vs base", "vs scalar");
    }
    // The floor for an in-place update: read and write every state float once, with one
    // multiply. (memcpy is not used: glibc picks `rep movsb` for some sizes, which on this VM
    // runs 98 KiB slower than 768 KiB, and would make a poor baseline.)
    void baseline_stream(std::vector<float>& state) {
        volatile float one = 1.0f;
        const float scale = one;
        copy_ = measure([&] { scale_in_place(state, scale); }, seconds_);
        print("read + write of the same floats (base)", copy_);
    }
    Timing row(const std::string& name, const std::function<void()>& body, bool is_scalar = false) {
        const Timing t = measure(body, seconds_);
        if (is_scalar) scalar_ = t;
        print(name, t);
        return t;
    }

private:
    void print(const std::string& name, const Timing& t) const {
        const std::string vs_copy = copy_.median_ns > 0 ? fmt::format("{:.2f}x", t.median_ns / copy_.median_ns) : "";
        const std::string vs_scalar = scalar_.median_ns > 0 ? fmt::format("{:.2f}x", scalar_.median_ns / t.median_ns) : "";
        fmt::print("  {:<40} {:>10.1f} {:>10.1f} {:>13.3f} {:>8} {:>9}\n", name, t.median_ns / 1e3,
                   t.p99_ns / 1e3, t.median_ns / static_cast<double>(elems_), vs_copy, vs_scalar);
    }
    std::size_t elems_;
    double seconds_;
    Timing copy_, scalar_;
};

void bench_state_updates(double secs, std::mt19937& rng) {
    const bool avx2 = models::cpu::cpu_has_avx2_fma();
    // --- Mamba-2 and Mamba-3: 24 heads x 64 x 128 -------------------------------------------
    constexpr std::size_t H = 24, P = 64, N = 128, d_inner = H * P;
    constexpr std::size_t elems = H * P * N;
    fmt::print("State update alone, one step per call: {} heads x {} x {} = {} state floats ({:.2f} MiB)\n",
               H, P, N, elems, elems * 4.0 / (1 << 20));
    auto state = random_vector(elems, rng, -1, 1);
    KernelTable table(elems, secs);
    table.baseline_stream(state);

    const models::cpu::SsdScanShape ssd{H, P, N, 1, d_inner, d_inner + 2 * N};
    const auto xbc = random_vector(ssd.row_stride, rng, -1, 1);
    const auto dt = random_vector(H, rng, 0.001f, 0.1f);
    const auto A = random_vector(H, rng, -16, -1);
    const auto D = random_vector(H, rng, 0.5f, 1.5f);
    std::vector<float> y(d_inner * 4);
    table.row("Mamba-2 scalar", [&] {
        models::cpu::ssd_scan_scalar(ssd, xbc.data(), dt.data(), A.data(), D.data(), state.data(), y.data(), 1);
    }, true);
    Timing mamba2{};
    if (avx2) {
        mamba2 = table.row("Mamba-2 avx2+fma", [&] {
            models::cpu::ssd_scan_avx2(ssd, xbc.data(), dt.data(), A.data(), D.data(), state.data(), y.data(), 1);
        });
    }
    for (const std::size_t R : {std::size_t{1}, std::size_t{4}}) {
        const models::cpu::Mamba3ScanShape m3{H, P, N, R};
        const auto coef = random_vector(H * 3, rng, 0.01f, 0.9f);
        const auto xr = random_vector(H * R * P, rng, -1, 1);
        const auto b = random_vector(H * R * N, rng, -1, 1);
        const auto c = random_vector(H * R * N, rng, -1, 1);
        const auto prev_xr = random_vector(H * R * P, rng, -1, 1);
        const auto prev_b = random_vector(H * R * N, rng, -1, 1);
        const std::string name = R == 1 ? "Mamba-3 SISO" : fmt::format("Mamba-3 MIMO rank {}", R);
        table.row(name + " scalar", [&] {
            models::cpu::mamba3_scan_scalar(m3, coef.data(), xr.data(), b.data(), c.data(), prev_xr.data(),
                                            prev_b.data(), state.data(), y.data(), 1);
        }, true);
        if (avx2) {
            const Timing t = table.row(name + " avx2+fma", [&] {
                models::cpu::mamba3_scan_avx2(m3, coef.data(), xr.data(), b.data(), c.data(), prev_xr.data(),
                                              prev_b.data(), state.data(), y.data(), 1);
            });
            fmt::print("  {:<40} {:.2f}x Mamba-2 avx2 per state element\n", "", t.median_ns / mamba2.median_ns);
        }
    }

    // --- Mamba-1: d_inner 1536 x d_state 16 --------------------------------------------------
    constexpr std::size_t D1 = 1536, N1 = 16, elems1 = D1 * N1;
    fmt::print("\nMamba-1 state update alone, one step per call: d_inner {} x d_state {} = {} state "
               "floats (one decay exp per element)\n", D1, N1, elems1);
    auto state1 = random_vector(elems1, rng, -1, 1);
    KernelTable table1(elems1, secs);
    table1.baseline_stream(state1);
    const models::cpu::SelectiveScanShape s6{D1, N1, 2 * N1};
    const auto x1 = random_vector(D1, rng, -1, 1);
    const auto dt1 = random_vector(D1, rng, 0.001f, 0.1f);
    const auto bc1 = random_vector(2 * N1, rng, -1, 1);
    const auto A1 = random_vector(elems1, rng, -16, -1);
    const auto D1v = random_vector(D1, rng, 0.5f, 1.5f);
    std::vector<float> y1(D1);
    table1.row("scalar, polynomial exp (portable)", [&] {
        models::cpu::selective_scan_scalar(s6, x1.data(), dt1.data(), bc1.data(), A1.data(), D1v.data(), state1.data(), y1.data(), 1);
    }, true);
    table1.row("scalar, libm expf per element", [&] {
        models::cpu::selective_scan_libm(s6, x1.data(), dt1.data(), bc1.data(), A1.data(), D1v.data(), state1.data(), y1.data(), 1);
    });
    if (avx2) {
        table1.row("avx2+fma, polynomial exp", [&] {
            models::cpu::selective_scan_avx2(s6, x1.data(), dt1.data(), bc1.data(), A1.data(), D1v.data(), state1.data(), y1.data(), 1);
        });
    } else {
        fmt::print("  avx2+fma: not measured (this CPU lacks AVX2 or FMA)\n");
    }
}

struct BlockCase {
    std::string name;
    models::Architecture architecture;
};

std::vector<BlockCase> block_cases(std::uint32_t d_model) {
    const auto one_layer = [&](models::LayerSpec layer) {
        models::Architecture a;
        a.input_dim = 16;
        a.d_model = d_model;
        a.output_dim = 16;
        a.layers = {layer};
        return a;
    };
    models::LayerSpec m2;
    m2.type = models::BlockType::kMamba2;
    m2.mamba2 = {128, 64, 2, 4, 1};
    models::LayerSpec m3;
    m3.type = models::BlockType::kMamba3;
    m3.mamba3 = {128, 64, 2, 1, 0};
    models::LayerSpec m3m = m3;
    m3m.mamba3.mimo_rank = 4;
    models::LayerSpec m1;
    m1.type = models::BlockType::kMamba1;
    m1.mamba1 = {16, 2, 4, 0};
    models::LayerSpec at;
    at.type = models::BlockType::kWindowAttention;
    at.attention = {12, 64, 256};
    return {{"Mamba-2 (d_state 128, head_dim 64)", one_layer(m2)},
            {"Mamba-3 SISO (d_state 128, head_dim 64)", one_layer(m3)},
            {"Mamba-3 MIMO rank 4", one_layer(m3m)},
            {"Mamba-1 (d_state 16)", one_layer(m1)},
            {"window attention (12 x 64, window 256)", one_layer(at)}};
}

// The reference's step time per architecture, or empty when python3-torch is not there.
std::vector<double> reference_step_us(const std::vector<BlockCase>& cases, double secs) {
    const std::filesystem::path script =
        std::filesystem::path(STATESTREAM_SOURCE_DIR) / "models" / "train" / "bench_reference.py";
    if (!std::filesystem::exists(script) || !std::filesystem::exists("/usr/bin/python3")) return {};
    std::string command = "/usr/bin/python3 '" + script.string() + "' --seconds " + fmt::format("{}", secs);
    for (const auto& c : cases) {
        std::string arg = architecture_json(c.architecture);
        std::string quoted = "'";
        for (const char ch : arg) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
        command += " " + quoted + "'";
    }
    command += " 2>/dev/null";
    std::FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return {};
    std::vector<double> out;
    double us = 0;
    unsigned long steps = 0;
    while (std::fscanf(pipe, "%lf %lu", &us, &steps) == 2) out.push_back(us);
    if (pclose(pipe) != 0 || out.size() != cases.size()) return {};
    return out;
}

void bench_blocks(double secs) {
    constexpr std::uint32_t d_model = 768;
    constexpr std::size_t kChunk = 512;
    const auto cases = block_cases(d_model);
    fmt::print("\nWhole model of one block at d_model {} (projections, norms, residual, 16-wide "
               "input and head included)\n", d_model);
    fmt::print("  {:<40} {:>12} {:>14} {:>10}\n", "block", "step() us", "forward 512", "vs steps");
    std::mt19937 rng(3);
    std::vector<std::vector<std::byte>> files;
    std::vector<double> step_us;
    for (const auto& c : cases) {
        files.push_back(random_model_bytes(c.architecture, 7));
        const auto file = models::ModelFile::parse(files.back(), c.name);
        const models::SsmModel model(file);
        models::StreamState state = model.make_state();
        models::ModelWorkspace one(model, 1), chunk(model, kChunk);
        const auto x = random_vector(kChunk * model.input_dim(), rng, -1, 1);
        std::vector<float> y(kChunk * model.output_dim());
        const Timing step = measure([&] {
            model.step(state, one, std::span(x).first(model.input_dim()), std::span(y).first(model.output_dim()));
        }, secs);
        const Timing steps = measure([&] {
            for (std::size_t t = 0; t < kChunk; ++t) {
                model.step(state, one, std::span(x).subspan(t * model.input_dim(), model.input_dim()),
                           std::span(y).subspan(t * model.output_dim(), model.output_dim()));
            }
        }, secs, 3);
        const Timing forward = measure([&] { model.forward(state, chunk, x, y); }, secs, 3);
        step_us.push_back(step.median_ns / 1e3);
        fmt::print("  {:<40} {:>12.1f} {:>11.1f} us {:>9.2f}x\n", c.name, step.median_ns / 1e3,
                   forward.median_ns / 1e3 / kChunk, steps.median_ns / forward.median_ns);
    }
    fmt::print("  (forward 512: us per step of forward() over a 512-step chunk; vs steps: 512 step() calls / that)\n");

    const auto reference = reference_step_us(cases, secs);
    if (reference.empty()) {
        fmt::print("  PyTorch reference: not measured (needs /usr/bin/python3 with python3-torch and "
                   "the source tree's models/train)\n");
    } else {
        fmt::print("  PyTorch reference step() (float32, one thread, no autograd), same architectures:\n");
        for (std::size_t i = 0; i < cases.size(); ++i) {
            fmt::print("  {:<40} {:>12.1f} us   C++ step() is {:.1f}x faster\n", cases[i].name,
                       reference[i], reference[i] / step_us[i]);
        }
    }

    // The sizes the task models use (d_model 128, two layers): weights dominate a step there,
    // and they are what batching shares.
    models::Architecture small;
    small.input_dim = 16;
    small.d_model = 128;
    small.output_dim = 16;
    models::LayerSpec layer;
    layer.type = models::BlockType::kMamba2;
    layer.mamba2 = {32, 32, 2, 4, 1};
    small.layers = {layer, layer};
    files.push_back(random_model_bytes(small, 7));
    const std::vector<std::string> batched_names = {cases[0].name + " d768", cases[1].name + " d768",
                                                    "2 x Mamba-2 d_model 128, d_state 32"};
    const std::vector<std::size_t> batched_files = {0, 1, files.size() - 1};
    fmt::print("\nBatched step over B streams (step_batch: every weight read once for all B)\n");
    fmt::print("  {:<48} {:>4} {:>12} {:>14} {:>9}\n", "model", "B", "us per call", "us per stream", "vs B=1");
    for (std::size_t i = 0; i < batched_files.size(); ++i) {
        const auto file = models::ModelFile::parse(files[batched_files[i]], batched_names[i]);
        const models::SsmModel model(file);
        double single = 0;
        for (const std::size_t B : {std::size_t{1}, std::size_t{8}, std::size_t{64}}) {
            std::vector<models::StreamState> states(B, model.make_state());
            std::vector<models::StreamState*> pointers;
            for (auto& s : states) pointers.push_back(&s);
            models::ModelWorkspace ws(model, B);
            const auto x = random_vector(B * model.input_dim(), rng, -1, 1);
            std::vector<float> y(B * model.output_dim());
            const Timing t = measure([&] { model.step_batch(pointers, ws, x, y); }, secs);
            const double per_stream = t.median_ns / 1e3 / static_cast<double>(B);
            if (B == 1) single = per_stream;
            fmt::print("  {:<48} {:>4} {:>12.1f} {:>14.2f} {:>8.2f}x\n", batched_names[i], B,
                       t.median_ns / 1e3, per_stream, single / per_stream);
        }
    }
}

}  // namespace

int run_ssm_bench(const SsmBenchOptions& options) {
    std::mt19937 rng(20261122);
    fmt::print("statestream bench ssm: one core; per-call CPU time of this thread, median and p99 "
               "(the VM has 1-7 ms scheduling stalls, which CPU time excludes)\n");
    fmt::print("kernels picked at load here: {}\n\n",
               models::cpu::cpu_has_avx2_fma() ? "avx2+fma" : "scalar (no AVX2+FMA on this CPU)");
    bench_state_updates(options.seconds_per_case, rng);
    bench_blocks(options.seconds_per_case);
    return 0;
}

}  // namespace statestream::bench
