#include "bench/bench_ssm.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <functional>
#include <random>
#include <vector>

#include <fmt/core.h>

#include "models/cpu/ssd_scan.hpp"
#include "models/mamba2_block.hpp"

namespace statestream::bench {

namespace {

// Per-call CPU time of this thread: the VM this was written on stalls for 1-7 ms at times,
// which wall-clock percentiles would report as ours.
double thread_cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

struct Timing {
    double median_ns = 0, p99_ns = 0;
    std::size_t samples = 0;
};

Timing measure(const std::function<void()>& body, double seconds) {
    for (int i = 0; i < 3; ++i) body();  // warm caches and page tables
    std::vector<double> samples;
    const double budget_ns = seconds * 1e9;
    double spent = 0;
    while (spent < budget_ns || samples.size() < 20) {
        const double t0 = thread_cpu_ns();
        body();
        const double dt = thread_cpu_ns() - t0;
        samples.push_back(dt);
        spent += dt;
    }
    std::sort(samples.begin(), samples.end());
    return {samples[samples.size() / 2], samples[std::min(samples.size() - 1, samples.size() * 99 / 100)],
            samples.size()};
}

std::vector<float> random_vector(std::size_t n, std::mt19937& rng, float low, float high) {
    std::uniform_real_distribution<float> dist(low, high);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

// A Mamba-2 layer with random weights, owned here (the bench needs no model file).
struct SyntheticMamba2 {
    std::vector<std::vector<float>> storage;
    models::Mamba2Weights weights;

    SyntheticMamba2(const models::Mamba2Spec& spec, std::size_t d_model, std::mt19937& rng) {
        weights.spec = spec;
        weights.dims = models::mamba2_dims(spec, static_cast<std::uint32_t>(d_model));
        weights.d_model = d_model;
        const auto& d = weights.dims;
        const auto add = [&](std::size_t n, float low, float high) -> std::span<const float> {
            storage.push_back(random_vector(n, rng, low, high));
            return storage.back();
        };
        storage.reserve(8);
        const float in_bound = 1.0f / std::sqrt(static_cast<float>(d_model));
        weights.in_proj = add(d.in_proj_dim * d_model, -in_bound, in_bound);
        weights.conv_weight = add(d.conv_dim * spec.d_conv, -0.5f, 0.5f);
        weights.conv_bias = add(d.conv_dim, -0.1f, 0.1f);
        weights.dt_bias = add(d.n_heads, -4.0f, -2.0f);
        weights.D = add(d.n_heads, 0.5f, 1.5f);
        weights.norm_weight = add(d.d_inner, 0.8f, 1.2f);
        const float out_bound = 1.0f / std::sqrt(static_cast<float>(d.d_inner));
        weights.out_proj = add(d_model * d.d_inner, -out_bound, out_bound);
        weights.A = random_vector(d.n_heads, rng, -16.0f, -1.0f);
        weights.scan = models::cpu::select_ssd_scan_kernel();
        weights.linear = models::cpu::select_linear_kernel();
    }
};

}  // namespace

int run_ssm_bench(const SsmBenchOptions& options) {
    std::mt19937 rng(20261122);
    const double secs = options.seconds_per_case;

    // --- Mamba-2 state update alone: 24 heads x 64 x 128, as in the target ----------
    const models::Mamba2Spec spec{128, 64, 2, 4, 1};
    const std::size_t d_model = 768;  // d_inner 1536 = 24 heads of 64
    const auto dims = models::mamba2_dims(spec, d_model);
    const models::cpu::SsdScanShape shape{dims.n_heads, spec.head_dim, spec.d_state,
                                          spec.n_groups, dims.d_inner, dims.conv_dim};
    const std::size_t state_elems = dims.n_heads * spec.head_dim * spec.d_state;
    auto xbc = random_vector(dims.conv_dim, rng, -1.0f, 1.0f);
    auto dt = random_vector(dims.n_heads, rng, 0.001f, 0.1f);
    auto A = random_vector(dims.n_heads, rng, -16.0f, -1.0f);
    auto D = random_vector(dims.n_heads, rng, 0.5f, 1.5f);
    auto state = random_vector(state_elems, rng, -1.0f, 1.0f);
    std::vector<float> copy_target(state_elems);
    std::vector<float> y(dims.d_inner);

    fmt::print("statestream bench ssm: Mamba-2, one core; per-call CPU time of this thread "
               "(median and p99; the VM has 1-7 ms scheduling stalls, which CPU time excludes)\n\n");
    fmt::print("State update alone: {} heads x {} x {} = {} state floats ({:.1f} MiB), one step per call\n",
               dims.n_heads, spec.head_dim, spec.d_state, state_elems,
               static_cast<double>(state_elems) * 4 / (1 << 20));
    fmt::print("  {:<28} {:>12} {:>12} {:>14} {:>9} {:>10}\n", "kernel", "median us", "p99 us",
               "ns/state elem", "vs copy", "vs scalar");
    const Timing copy = measure([&] {
        std::memcpy(copy_target.data(), state.data(), state_elems * 4);
        std::swap(copy_target, state);
    }, secs);
    const auto row = [&](const char* name, const Timing& t, double scalar_ns) {
        fmt::print("  {:<28} {:>12.1f} {:>12.1f} {:>14.3f} {:>8.2f}x {:>9.2f}x\n", name,
                   t.median_ns / 1e3, t.p99_ns / 1e3, t.median_ns / state_elems,
                   t.median_ns / copy.median_ns, scalar_ns > 0 ? scalar_ns / t.median_ns : 1.0);
    };
    row("copy of the same bytes (base)", copy, 0);
    const Timing scalar = measure([&] {
        models::cpu::ssd_scan_scalar(shape, xbc.data(), dt.data(), A.data(), D.data(), state.data(), y.data(), 1);
    }, secs);
    row("scalar (portable)", scalar, scalar.median_ns);
    if (models::cpu::cpu_has_avx2_fma()) {
        const Timing avx2 = measure([&] {
            models::cpu::ssd_scan_avx2(shape, xbc.data(), dt.data(), A.data(), D.data(), state.data(), y.data(), 1);
        }, secs);
        row("avx2+fma", avx2, scalar.median_ns);
    } else {
        fmt::print("  avx2+fma: not measured (this CPU lacks AVX2 or FMA)\n");
    }

    // --- Whole block: projections, conv, scan, gate, norm ------------------------------------
    const SyntheticMamba2 block(spec, d_model, rng);
    constexpr std::size_t kChunk = 512;
    models::Mamba2Workspace one(block.weights, 1);
    models::Mamba2Workspace chunk(block.weights, kChunk);
    std::vector<float> block_state(state_elems + (spec.d_conv - 1) * dims.conv_dim, 0.0f);
    float* const stream_states[] = {block_state.data()};
    const models::StreamBatch one_step{stream_states, 1};
    const models::StreamBatch one_chunk{stream_states, kChunk};
    const auto u = random_vector(kChunk * d_model, rng, -1.0f, 1.0f);
    std::vector<float> out(kChunk * d_model);
    fmt::print("\nWhole block (d_model {}, d_inner {}, kernel {}): in_proj {}x{}, out_proj {}x{}\n",
               d_model, dims.d_inner, models::cpu::ssd_scan_kernel_name(block.weights.scan),
               dims.in_proj_dim, d_model, d_model, dims.d_inner);
    const Timing step = measure([&] {
        models::mamba2_forward(block.weights, one_step, one, u.data(), out.data());
    }, secs);
    const Timing steps512 = measure([&] {
        for (std::size_t t = 0; t < kChunk; ++t) {
            models::mamba2_forward(block.weights, one_step, one, u.data() + t * d_model,
                                   out.data() + t * d_model);
        }
    }, secs * 2);
    const Timing forward512 = measure([&] {
        models::mamba2_forward(block.weights, one_chunk, chunk, u.data(), out.data());
    }, secs * 2);
    fmt::print("  {:<36} {:>12} {:>12}\n", "", "us/step", "p99 us/call");
    fmt::print("  {:<36} {:>12.1f} {:>12.1f}\n", "step()", step.median_ns / 1e3, step.p99_ns / 1e3);
    fmt::print("  {:<36} {:>12.1f} {:>12.1f}\n", "512 x step() (base)", steps512.median_ns / 1e3 / kChunk,
               steps512.p99_ns / 1e3);
    fmt::print("  {:<36} {:>12.1f} {:>12.1f}   {:.2f}x faster per step than the base\n",
               "forward() over a 512-step chunk", forward512.median_ns / 1e3 / kChunk,
               forward512.p99_ns / 1e3, steps512.median_ns / forward512.median_ns);
    fmt::print("\nNot measured yet: Mamba-1/Mamba-3 kernels, batched steps over B streams, the "
               "PyTorch reference's step time.\n");
    return 0;
}

}  // namespace statestream::bench
