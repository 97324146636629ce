// CudaModel (models/cuda/cuda_model.hpp) against the CPU path, without Catch2, for the
// models-only build on the GPU machine. For every block type (the shipped models, the golden
// fixtures' models and random models with awkward sizes) and several stream counts, the
// device's step, stepped a few times from random states with random inputs, must give the
// outputs and the final states of SsmModel::step_batch within fp32 tolerance; separate launches
// and the captured graph, with and without programmatic launch, are all exercised. Single
// steps of 11,000 and 22,000 streams of a model with 196,608 SSM floats a stream put state
// offsets past 2^31 and 2^32 floats: streams at the start, middle and end must still match.
//
// No usable GPU (CI): prints "SKIPPED: ..." with the reason and exits 77 (ctest's skip code).
// `--skip-large` leaves the 8.7 and 17.8 GB checks out; `--quick` checks only the small random models and
// the mixed fixture (every block type), for the slow compute-sanitizer tools.
// Prints "N passed, M failed" last; exits 1 on any failure.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "bench/random_model.hpp"
#include "models/cuda/cuda_devices.hpp"
#include "models/cuda/cuda_model.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"
#include "tests/support/fixture_file.hpp"
#include "tests/support/plain_check.hpp"

namespace {

using namespace statestream;

// fp32 tolerance for the device against the CPU, as max|gpu - cpu| / max(max|cpu|, 1e-3)
// (test::relative_error): both are float32 with different summation orders (warp reductions,
// FMA contraction, tiles), different exp/sin/cos (CUDA's against libm and the CPU's polynomial
// exp of Mamba-1), compounded over the steps and layers below.
constexpr double kTolerance = 1e-4;
// The angles are compared as angle + residual modulo 2 pi (one side may have wrapped).
constexpr double kAngleTolerance = 1e-5;  // radians
// bfloat16 SSM state keeps 8 significant bits. The CPU side then stores its SSM state rounded
// the same way after every step (round_ssm_to_bfloat16), so both walk the same path and the
// kernels' bfloat16 loads and stores are checked, not bfloat16 itself. They still differ where
// a float32 value a rounding ulp apart (summation order) lands on the other side of a bfloat16
// rounding boundary: one value moves by 2^-8, and the network carries it on.
// Measured on an H100 (docs/cuda.md): up to 6.2e-3 on outputs, 1.3e-2 on states, 5.1e-4 rad
// on Mamba-3's angles (float32 themselves, but advanced by inputs that saw the rounding).
constexpr double kBf16Tolerance = 3e-2;
constexpr double kBf16AngleTolerance = 3e-3;  // radians

// Round-to-nearest-even to bfloat16 and back, as the device stores (models/cuda/kernel_support.cuh).
float round_to_bfloat16(float value) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, &value, sizeof bits);
    if ((bits & 0x7fffffffU) > 0x7f800000U) return value;
    bits += 0x7fffU + ((bits >> 16) & 1U);
    bits &= 0xffff0000U;
    float out = 0.0f;
    std::memcpy(&out, &bits, sizeof out);
    return out;
}

// What the device keeps of a step's state with StateType::kBFloat16: every Mamba layer's `ssm`.
void round_ssm_to_bfloat16(const models::SsmModel& model, models::StreamState& state) {
    const auto& layers = model.architecture().layers;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        if (layers[i].type == models::BlockType::kWindowAttention) continue;
        for (float& v : model.state_tensor(state, i, "ssm")) v = round_to_bfloat16(v);
    }
}

// A random state a stream could hold: SSM and history values in [-1, 1], angles in [0, 2 pi)
// with a small residual, attention cursors in range.
models::StreamState random_state(const models::SsmModel& model, std::mt19937& rng) {
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    models::StreamState state = model.make_state();
    const auto& arch = model.architecture();
    for (std::size_t i = 0; i < model.state_layout().size(); ++i) {
        for (const auto& t : model.state_layout()[i]) {
            auto view = model.state_tensor(state, i, t.name);
            if (t.name == "angle") {
                std::uniform_real_distribution<float> phase(0.0f, 6.28f);
                for (float& v : view) v = phase(rng);
            } else if (t.name == "angle_residual") {
                for (float& v : view) v = 1e-8f * unit(rng);
            } else if (t.name == "cursor") {
                const std::uint32_t window = arch.layers[i].attention.window;
                std::uniform_int_distribution<std::uint32_t> slot(0, window - 1), live(0, window);
                view[0] = static_cast<float>(slot(rng));
                view[1] = static_cast<float>(live(rng));
            } else {
                for (float& v : view) v = unit(rng);
            }
        }
    }
    return state;
}

std::vector<float> random_inputs(std::size_t n, std::mt19937& rng) {
    std::uniform_real_distribution<float> unit(-2.0f, 2.0f);
    std::vector<float> x(n);
    for (float& v : x) v = unit(rng);
    return x;
}

double angle_error(std::span<const float> got_angle, std::span<const float> got_residual,
                   std::span<const float> want_angle, std::span<const float> want_residual) {
    constexpr double kTwoPi = 2.0 * std::numbers::pi;
    double worst = 0.0;
    for (std::size_t k = 0; k < got_angle.size(); ++k) {
        const double got = double{got_angle[k]} + double{got_residual[k]};
        const double want = double{want_angle[k]} + double{want_residual[k]};
        if (!std::isfinite(got)) return INFINITY;
        double d = std::fmod(std::abs(got - want), kTwoPi);
        d = std::min(d, kTwoPi - d);
        worst = std::max(worst, d);
    }
    return worst;
}

struct Errors {
    double output = 0.0;
    double state = 0.0;
    double angle = 0.0;
};

// The final states of `streams` (GPU) against `want` (CPU), tensor by tensor.
void compare_states(const models::SsmModel& model, std::vector<models::StreamState>& got,
                    std::vector<models::StreamState>& want, Errors& errors) {
    for (std::size_t s = 0; s < got.size(); ++s) {
        for (std::size_t i = 0; i < model.state_layout().size(); ++i) {
            for (const auto& t : model.state_layout()[i]) {
                if (t.name == "angle_residual") continue;  // with "angle"
                const auto g = model.state_tensor(got[s], i, t.name);
                const auto w = model.state_tensor(want[s], i, t.name);
                if (t.name == "angle") {
                    errors.angle = std::max(
                        errors.angle, angle_error(g, model.state_tensor(got[s], i, "angle_residual"), w,
                                                  model.state_tensor(want[s], i, "angle_residual")));
                } else {
                    errors.state = std::max(errors.state, test::relative_error(g, w));
                }
            }
        }
    }
}

// `steps` steps of B streams from random states on both sides; the first half as separate
// launches, the rest as graph launches.
Errors compare_steps(const models::SsmModel& model, std::size_t B, std::size_t steps,
                     const models::cuda::CudaModelOptions& options, std::uint32_t seed) {
    std::mt19937 rng(seed);
    models::cuda::CudaModel gpu(model, B, nullptr, options);
    std::vector<models::StreamState> cpu_states;
    std::vector<models::StreamState*> pointers;
    for (std::size_t s = 0; s < B; ++s) cpu_states.push_back(random_state(model, rng));
    for (auto& s : cpu_states) pointers.push_back(&s);
    const bool bf16 = options.state_type == models::cuda::StateType::kBFloat16;
    for (std::size_t s = 0; s < B; ++s) {
        gpu.upload_state(s, cpu_states[s]);
        models::StreamState back = model.make_state();
        gpu.download_state(s, back);
        if (!bf16) {
            SS_CHECK(std::memcmp(back.values.data(), cpu_states[s].values.data(),
                                 back.values.size() * sizeof(float)) == 0);
            continue;
        }
        // Rounded to nearest: within half a bfloat16 step (2^-8 relative) of what went up.
        for (std::size_t k = 0; k < back.values.size(); ++k) {
            const float want = cpu_states[s].values[k];
            SS_CHECK(std::fabs(back.values[k] - want) <= std::ldexp(std::fabs(want), -8));
        }
        cpu_states[s] = back;
    }
    models::ModelWorkspace ws(model, B);
    Errors errors;
    for (std::size_t t = 0; t < steps; ++t) {
        if (t == steps / 2) gpu.prepare_graph(B);
        const auto x = random_inputs(B * model.input_dim(), rng);
        std::vector<float> want(B * model.output_dim()), got(want.size(), NAN);
        model.step_batch(pointers, ws, x, want);
        if (bf16) {
            for (auto& state : cpu_states) round_ssm_to_bfloat16(model, state);
        }
        gpu.step_batch(x, got);
        errors.output = std::max(errors.output, test::relative_error(got, want));
    }
    std::vector<models::StreamState> gpu_states(B, model.make_state());
    for (std::size_t s = 0; s < B; ++s) gpu.download_state(s, gpu_states[s]);
    compare_states(model, gpu_states, cpu_states, errors);
    return errors;
}

// forward() of T tokens of B streams against the CPU's forward() of each stream from the same
// random state: outputs of every token and the final states. T = 150 runs two full chunks of
// 64 and a partial one.
// With bfloat16 state the CPU steps token by token, rounding its SSM state after each (see
// kBf16Tolerance), and `drift` receives how far the float32 CPU forward() ends up from it.
Errors compare_forward(const models::SsmModel& model, std::size_t B, std::size_t T,
                       const models::cuda::CudaModelOptions& options, std::uint32_t seed,
                       double* drift = nullptr) {
    std::mt19937 rng(seed);
    models::cuda::CudaModel gpu(model, B, nullptr, options);
    std::vector<models::StreamState> cpu_states;
    for (std::size_t s = 0; s < B; ++s) {
        cpu_states.push_back(random_state(model, rng));
        gpu.upload_state(s, cpu_states[s]);
        gpu.download_state(s, cpu_states[s]);  // bfloat16: the CPU starts where the GPU does
    }
    const auto x = random_inputs(B * T * model.input_dim(), rng);
    std::vector<float> want(B * T * model.output_dim()), got(want.size(), NAN);
    models::ModelWorkspace ws(model, 64);
    const bool bf16 = options.state_type == models::cuda::StateType::kBFloat16;
    std::vector<float> exact(want.size());
    const std::size_t in = model.input_dim(), out = model.output_dim();
    for (std::size_t s = 0; s < B; ++s) {
        models::StreamState float32_state = cpu_states[s];
        model.forward(float32_state, ws, std::span(x).subspan(s * T * in, T * in),
                      std::span(exact).subspan(s * T * out, T * out));
        if (!bf16) {
            cpu_states[s] = float32_state;
            continue;
        }
        for (std::size_t t = 0; t < T; ++t) {
            model.step(cpu_states[s], ws, std::span(x).subspan((s * T + t) * in, in),
                       std::span(want).subspan((s * T + t) * out, out));
            round_ssm_to_bfloat16(model, cpu_states[s]);
        }
    }
    if (!bf16) want = exact;
    if (drift != nullptr) *drift = test::relative_error(want, exact);
    gpu.forward(x, got, B);
    Errors errors;
    errors.output = test::relative_error(got, want);
    std::vector<models::StreamState> gpu_states(B, model.make_state());
    for (std::size_t s = 0; s < B; ++s) gpu.download_state(s, gpu_states[s]);
    compare_states(model, gpu_states, cpu_states, errors);
    return errors;
}

// Random models with every block type and sizes the shipped ones lack: d_state not a multiple
// of 4 (the scalar paths), several groups, MIMO, a 1536-wide Mamba-2 whose rows overflow the
// narrow projection's shared memory at 16 streams, attention with odd heads.
std::vector<std::pair<std::string, models::Architecture>> random_architectures() {
    const auto make = [](std::uint32_t in, std::uint32_t d_model, std::uint32_t out,
                         std::vector<models::LayerSpec> layers) {
        models::Architecture a;
        a.input_dim = in;
        a.d_model = d_model;
        a.output_dim = out;
        a.layers = std::move(layers);
        return a;
    };
    models::LayerSpec m2_odd;
    m2_odd.type = models::BlockType::kMamba2;
    m2_odd.mamba2 = {10, 6, 1, 2, 2};  // d_state 10, head_dim 6, expand 1, d_conv 2, 2 groups
    models::LayerSpec m2_wide;
    m2_wide.type = models::BlockType::kMamba2;
    m2_wide.mamba2 = {128, 64, 2, 4, 1};
    models::LayerSpec m3_siso;
    m3_siso.type = models::BlockType::kMamba3;
    m3_siso.mamba3 = {32, 16, 2, 2, 0};
    models::LayerSpec m3_mimo;
    m3_mimo.type = models::BlockType::kMamba3;
    m3_mimo.mamba3 = {14, 12, 2, 1, 4};  // d_state 14: scalar path; rank 4
    models::LayerSpec m1;
    m1.type = models::BlockType::kMamba1;
    m1.mamba1 = {16, 2, 4, 0};
    models::LayerSpec m1_odd;
    m1_odd.type = models::BlockType::kMamba1;
    m1_odd.mamba1 = {7, 1, 3, 5};
    models::LayerSpec at;
    at.type = models::BlockType::kWindowAttention;
    at.attention = {3, 7, 5};
    return {{"random mamba2 odd sizes", make(7, 36, 9, {m2_odd, m2_odd})},
            {"random mamba2 d_model 768", make(16, 768, 16, {m2_wide})},
            {"random mamba3 siso + mimo", make(5, 48, 3, {m3_siso, m3_mimo, m3_siso})},
            {"random mamba1 + attention", make(6, 40, 4, {m1, at, m1_odd, at})}};
}

}  // namespace

int main(int argc, char** argv) {
    bool skip_large = false, quick = false;
    for (int i = 1; i < argc; ++i) {
        skip_large = skip_large || std::string(argv[i]) == "--skip-large";
        quick = quick || std::string(argv[i]) == "--quick";
    }
    const auto gpus = models::cuda::list_cuda_devices();
    const models::cuda::CudaDevice* device = nullptr;
    for (const auto& d : gpus.devices) {
        if (d.runs_kernels && device == nullptr) device = &d;
    }
    if (device == nullptr) {
        std::printf("SKIPPED: CUDA model checks (%s)\n",
                    gpus.devices.empty() ? gpus.why_none.c_str()
                                         : "no listed device runs this binary's kernels");
        return 77;
    }
    std::printf("device [%d] %s, compute %d.%d\n", device->index, device->name.c_str(),
                device->compute_major, device->compute_minor);

    int passed = 0, failed = 0;
    const auto run = [&](const std::string& name, auto&& body) {
        const int before = test::plain_failures();
        try {
            body();
        } catch (const std::exception& error) {
            std::fprintf(stderr, "%s: %s\n", name.c_str(), error.what());
            ++test::plain_failures();
        }
        const bool ok = test::plain_failures() == before;
        (ok ? passed : failed) += 1;
        std::printf("%s %s\n", ok ? "PASS" : "FAIL", name.c_str());
    };

    const auto check_model = [&](const std::string& name, const models::ModelFile& file) {
        const models::SsmModel model(file);
        std::uint32_t seed = 1;
        // B = 1 and 16 take the narrow projection kernel, 133 cuBLAS and then the tile kernel;
        // then bfloat16 SSM state under its own bound.
        struct Case {
            std::size_t streams;
            bool programmatic, cublas, bf16;
        };
        for (const Case c : {Case{1, true, true, false}, Case{16, false, true, false},
                             Case{133, true, true, false}, Case{133, true, false, false},
                             Case{1, true, true, true}, Case{133, true, true, true}}) {
            models::cuda::CudaModelOptions options;
            options.programmatic_launch = c.programmatic;
            options.cublas_projections = c.cublas;
            if (c.bf16) options.state_type = models::cuda::StateType::kBFloat16;
            const double bound = c.bf16 ? kBf16Tolerance : kTolerance;
            const double angle_bound = c.bf16 ? kBf16AngleTolerance : kAngleTolerance;
            const std::string label = name + ", B=" + std::to_string(c.streams) +
                                      (c.programmatic ? "" : ", no programmatic launch") +
                                      (c.streams > 64 ? (c.cublas ? ", cuBLAS" : ", tile kernel") : "") +
                                      (c.bf16 ? ", bfloat16 state" : "");
            run(label + ": GPU step matches the CPU", [&] {
                const Errors e = compare_steps(model, c.streams, 6, options, seed++);
                std::printf("  max relative error: outputs %.2e, states %.2e", e.output, e.state);
                if (e.angle > 0.0) std::printf(", angles %.2e rad", e.angle);
                std::printf(" (bounds %.0e, %.0e rad)\n", bound, angle_bound);
                SS_CHECK(e.output < bound);
                SS_CHECK(e.state < bound);
                SS_CHECK(e.angle < angle_bound);
            });
        }
    };

    // forward(): 3 streams (the narrow kernel up to 64 rows, then cuBLAS on 3 x 64 rows) and
    // 70 streams (cuBLAS and the step kernels' cuBLAS path for non-Mamba-2 layers).
    const auto check_forward = [&](const std::string& name, const models::SsmModel& model) {
        struct Case {
            std::size_t streams;
            bool bf16;
        };
        for (const Case c : {Case{3, false}, Case{70, false}, Case{3, true}}) {
            models::cuda::CudaModelOptions options;
            if (c.bf16) options.state_type = models::cuda::StateType::kBFloat16;
            const double bound = c.bf16 ? kBf16Tolerance : kTolerance;
            const double angle_bound = c.bf16 ? kBf16AngleTolerance : kAngleTolerance;
            run(name + ", forward of 150 tokens x " + std::to_string(c.streams) + " streams" +
                    (c.bf16 ? ", bfloat16 state" : "") + ": GPU matches the CPU's forward()",
                [&] {
                    double drift = 0.0;
                    const Errors e = compare_forward(model, c.streams, 150, options, 71, &drift);
                    if (c.bf16) {
                        std::printf("  bfloat16 state against float32 state (CPU), outputs after 150 "
                                    "tokens: %.2e of their largest value\n", drift);
                    }
                    std::printf("  max relative error: outputs %.2e, states %.2e", e.output, e.state);
                    if (e.angle > 0.0) std::printf(", angles %.2e rad", e.angle);
                    std::printf(" (bounds %.0e, %.0e rad)\n", bound, angle_bound);
                    SS_CHECK(e.output < bound);
                    SS_CHECK(e.state < bound);
                    SS_CHECK(e.angle < angle_bound);
                });
        }
    };

    const std::string data = STATESTREAM_DATA_DIR;
    for (const char* path : {"/models/transcriber.safetensors", "/models/enhancer.safetensors",
                             "/models/forecaster.safetensors", "/models/tiny_mamba2.safetensors",
                             "/fixtures/mamba2_fixture.safetensors", "/fixtures/mixed_fixture.safetensors",
                             "/fixtures/enhancer_fixture.safetensors",
                             "/fixtures/transcriber_fixture.safetensors",
                             "/fixtures/forecast_fixture.safetensors"}) {
        if (quick && std::string(path) != "/fixtures/mixed_fixture.safetensors") continue;
        const auto file = models::ModelFile::load(data + path);
        check_model(std::string(path).substr(1), file);
        check_forward(std::string(path).substr(1), models::SsmModel(file));
    }
    std::vector<std::vector<std::byte>> bytes;
    for (const auto& [name, arch] : random_architectures()) {
        if (quick && arch.d_model == 768) continue;  // the sanitizers take minutes on it
        bytes.push_back(bench::random_model_bytes(arch, 11));
        const auto file = models::ModelFile::parse(bytes.back(), name);
        check_model(name, file);
        check_forward(name, models::SsmModel(file));
    }

    if (!quick) {
        // 1,500 streams of the wide Mamba-2, every one compared, through cuBLAS (the projections'
        // odd row count and the norm kernel's grid-stride loop).
        run("random mamba2 d_model 768, B=1500: GPU step matches the CPU", [&] {
            const auto model_bytes = bench::random_model_bytes(random_architectures()[1].second, 13);
            const auto file = models::ModelFile::parse(model_bytes, "random mamba2 d_model 768");
            const models::SsmModel model(file);
            const Errors e = compare_steps(model, 1500, 2, models::cuda::CudaModelOptions{}, 99);
            std::printf("  max relative error: outputs %.2e, states %.2e (bound %.0e)\n", e.output,
                        e.state, kTolerance);
            SS_CHECK(e.output < kTolerance);
            SS_CHECK(e.state < kTolerance);
        });
    }
    if (skip_large) {
        std::printf("SKIPPED: the 11,000- and 22,000-stream checks (--skip-large)\n");
    } else {
        // 11,000 streams put the SSM state's offsets past 2^31 floats, 22,000 past 2^32.
        for (const std::size_t B : {std::size_t{11000}, std::size_t{22000}}) {
            run(std::to_string(B) + " streams of 789 KB state: 64-bit offsets", [&] {
                const auto arch = random_architectures()[1].second;
                const auto model_bytes = bench::random_model_bytes(arch, 5);
                const auto file = models::ModelFile::parse(model_bytes, "random mamba2 d_model 768");
                const models::SsmModel model(file);
                models::cuda::CudaModel gpu(model, B, nullptr);
                std::printf("  state %.1f GB on the device (%llu bytes a stream)\n",
                            static_cast<double>(gpu.state_bytes_per_stream()) * B / 1e9,
                            static_cast<unsigned long long>(gpu.state_bytes_per_stream()));
                std::mt19937 rng(3);
                const models::StreamState start = random_state(model, rng);
                gpu.broadcast_state(start, B);
                const std::size_t picks[] = {0, B / 2, B - 1};
                for (const std::size_t s : picks) {
                    models::StreamState copy = model.make_state();
                    gpu.download_state(s, copy);
                    const bool exact = std::memcmp(copy.values.data(), start.values.data(),
                                                   copy.values.size() * sizeof(float)) == 0;
                    if (!exact) std::printf("  stream %zu: broadcast state differs\n", s);
                    SS_CHECK(exact);
                }
                const auto x = random_inputs(B * model.input_dim(), rng);
                std::vector<float> y(B * model.output_dim(), NAN);
                gpu.prepare_graph(B);
                gpu.step_batch(x, y);
                for (const std::size_t s : picks) {
                    models::StreamState want = start;
                    models::ModelWorkspace ws(model, 1);
                    std::vector<float> y_want(model.output_dim());
                    model.step(want, ws, std::span(x).subspan(s * model.input_dim(), model.input_dim()),
                               y_want);
                    const double output = test::relative_error(
                        std::span(y).subspan(s * model.output_dim(), model.output_dim()), y_want);
                    std::vector<models::StreamState> got(1, model.make_state()), wants{want};
                    gpu.download_state(s, got[0]);
                    Errors errors;
                    compare_states(model, got, wants, errors);
                    std::printf("  stream %zu: max relative error output %.2e, state %.2e\n", s, output,
                                errors.state);
                    SS_CHECK(output < kTolerance);
                    SS_CHECK(errors.state < kTolerance);
                }
            });
        }
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
