// bench_cuda_step: the batched model step on a CUDA device (models/cuda/cuda_model.hpp), each
// figure beside a baseline measured in the same run. Built in every tree that has CUDA (the
// models-only one too: bench/ as a whole needs the audio libraries); run by hand, never by
// ctest, and it never passes or fails on time.
//
//   latency at B = 1: GPU time per step from events around many back-to-back launches, as
//     separate kernel launches, as one graph launch, and as a graph without programmatic
//     launch; the host round trip (inputs to the device, the step, outputs back, wait) beside
//     it, wall clock; the CPU's step() of the same model on one core.
//   throughput at B = 1, 64, 1024, 16384: graph replays; state bytes moved a step (every state
//     float read and written once: 2 x state bytes x B) per second, as a fraction of a large
//     device-to-device copy measured in the same run (bytes read + written).
//
// Usage: bench_cuda_step [max_streams]   (default 16384)

#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/random_model.hpp"
#include "models/cuda/cuda_model.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"

namespace {

using namespace statestream;
using Clock = std::chrono::steady_clock;

void check(cudaError_t status, const char* what) {
    if (status != cudaSuccess) {
        throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
    }
}

void check(models::cuda::StepStatus status, const char* what) {
    if (!status.ok()) throw std::runtime_error(std::string(what) + ": " + status.message);
}

// GPU time of `reps` calls of `body` enqueued back to back on `stream`, from events: us a call.
template <class Body>
double gpu_us(cudaStream_t stream, int reps, Body&& body) {
    cudaEvent_t start = nullptr, stop = nullptr;
    check(cudaEventCreate(&start), "cudaEventCreate");
    check(cudaEventCreate(&stop), "cudaEventCreate");
    for (int i = 0; i < 3; ++i) body();  // warm: module load, caches, the graph's first upload
    check(cudaEventRecord(start, stream), "cudaEventRecord");
    for (int i = 0; i < reps; ++i) body();
    check(cudaEventRecord(stop, stream), "cudaEventRecord");
    check(cudaEventSynchronize(stop), "cudaEventSynchronize");
    float ms = 0.0f;
    check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    return static_cast<double>(ms) * 1e3 / reps;
}

// Repetitions that take about `seconds` at `us_each`, within [lo, hi].
int reps_for(double us_each, double seconds, int lo, int hi) {
    const double n = seconds * 1e6 / std::max(us_each, 1e-3);
    return static_cast<int>(std::clamp(n, static_cast<double>(lo), static_cast<double>(hi)));
}

struct Percentiles {
    double median = 0, p99 = 0;
};
Percentiles percentiles(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 99 / 100)]};
}

// Bytes read + written per second by cudaMemcpyAsync device to device of 1 GiB.
double copy_bandwidth_gbs(cudaStream_t stream) {
    constexpr std::size_t kBytes = std::size_t{1} << 30;
    void* a = nullptr;
    void* b = nullptr;
    check(cudaMalloc(&a, kBytes), "cudaMalloc");
    check(cudaMalloc(&b, kBytes), "cudaMalloc");
    check(cudaMemsetAsync(a, 1, kBytes, stream), "cudaMemsetAsync");
    check(cudaMemsetAsync(b, 2, kBytes, stream), "cudaMemsetAsync");
    const double us = gpu_us(stream, 20, [&] {
        check(cudaMemcpyAsync(b, a, kBytes, cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync");
    });
    cudaFree(a);
    cudaFree(b);
    return 2.0 * kBytes / (us * 1e-6) / 1e9;
}

struct Case {
    std::string name;
    std::vector<std::byte> bytes;  // empty: load `path`
    std::string path;
};

struct Summary {
    std::string name;
    std::size_t layers = 0;
    double graph_us = 0, launches_us = 0, no_pdl_us = 0, round_trip_us = 0, cpu_us = 0;
    // Of copy bandwidth, per B: float32 state with cuBLAS projections (the default), float32
    // with the hand-written tile kernel, bfloat16 state with cuBLAS.
    std::vector<double> fraction, fraction_tile, fraction_bf16;
    double forward_mtok = 0, stepped_mtok = 0;  // M tokens/s: forward(), and graph steps
};

std::string describe(const models::Architecture& a) {
    std::string layers;
    for (const auto& l : a.layers) {
        if (!layers.empty()) layers += ",";
        layers += std::string(models::block_type_name(l.type));
    }
    return std::to_string(a.layers.size()) + " layers (" + layers + "), d_model " + std::to_string(a.d_model);
}

Summary bench_model(const Case& c, std::size_t max_streams, double copy_gbs, cudaStream_t stream,
                    const std::vector<std::size_t>& batches) {
    const auto file = c.bytes.empty() ? models::ModelFile::load(c.path) : models::ModelFile::parse(c.bytes, c.name);
    const models::SsmModel model(file);
    Summary out;
    out.name = c.name;
    out.layers = model.architecture().layers.size();
    std::mt19937 rng(17);
    std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
    models::StreamState start = model.make_state();
    for (float& v : start.values) v = unit(rng);  // not zeros: real data, as a stream would carry
    for (std::size_t i = 0; i < model.state_layout().size(); ++i) {
        for (const auto& t : model.state_layout()[i]) {
            auto view = model.state_tensor(start, i, t.name);
            if (t.name == "cursor") std::fill(view.begin(), view.end(), 0.0f);
            if (t.name == "angle") for (float& v : view) v = 1.0f + v;
        }
    }
    std::vector<float> x(max_streams * model.input_dim());
    for (float& v : x) v = unit(rng);

    auto owned = std::make_unique<models::cuda::CudaModel>(model, max_streams, stream);
    models::cuda::CudaModel& gpu = *owned;
    std::printf("\n%s: %s; state %.1f KB a stream, weights %.2f MB\n", c.name.c_str(),
                describe(model.architecture()).c_str(), gpu.state_bytes_per_stream() / 1024.0,
                gpu.weight_bytes() / 1e6);
    gpu.broadcast_state(start, max_streams);
    check(cudaMemcpyAsync(gpu.device_input(), x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice,
                          stream),
          "cudaMemcpyAsync (inputs)");
    gpu.synchronize();

    // --- B = 1 latency ---------------------------------------------------------------------
    out.launches_us = gpu_us(stream, 2000, [&] { check(gpu.enqueue_step(1), "enqueue_step"); });
    gpu.prepare_graph(1);
    out.graph_us = gpu_us(stream, 5000, [&] { check(gpu.launch_graph(1), "launch_graph"); });
    {
        models::cuda::CudaModelOptions plain;
        plain.programmatic_launch = false;
        models::cuda::CudaModel no_pdl(model, 1, stream, plain);
        no_pdl.broadcast_state(start, 1);
        no_pdl.prepare_graph(1);
        out.no_pdl_us = gpu_us(stream, 5000, [&] { check(no_pdl.launch_graph(1), "launch_graph"); });
    }
    std::vector<float> y(model.output_dim());
    std::vector<double> round_trips;
    for (int i = 0; i < 2003; ++i) {
        const auto t0 = Clock::now();
        gpu.step_batch(std::span(x).first(model.input_dim()), y);
        const std::chrono::duration<double, std::micro> dt = Clock::now() - t0;
        if (i >= 3) round_trips.push_back(dt.count());
    }
    const Percentiles rt = percentiles(round_trips);
    out.round_trip_us = rt.median;
    {
        models::ModelWorkspace ws(model, 1);
        models::StreamState state = start;
        std::vector<double> samples;
        for (int i = 0; i < 203; ++i) {
            const auto t0 = Clock::now();
            model.step(state, ws, std::span(x).first(model.input_dim()), y);
            const std::chrono::duration<double, std::micro> dt = Clock::now() - t0;
            if (i >= 3) samples.push_back(dt.count());
        }
        out.cpu_us = percentiles(samples).median;
    }
    std::printf("  B=1, GPU time per step: separate launches %.1f us, graph %.1f us (%.2f us per "
                "layer), graph without programmatic launch %.1f us\n",
                out.launches_us, out.graph_us, out.graph_us / out.layers, out.no_pdl_us);
    std::printf("  B=1, host round trip (inputs in, graph, outputs out, wait): median %.1f us, "
                "p99 %.1f us; CPU step() on one core: %.1f us\n",
                rt.median, rt.p99, out.cpu_us);

    // --- throughput ---------------------------------------------------------------------------
    // One model at a time on the device (three of a d768 model at 16,384 streams would not fit
    // beside each other on every card).
    const auto throughput = [&](models::cuda::CudaModel& m, const char* label, std::vector<double>& into) {
        std::printf("  %s\n  %8s %12s %14s %14s %12s\n", label, "B", "us/step", "ns/stream", "state GB/s",
                    "of copy");
        for (const std::size_t B : batches) {
            if (B > max_streams) continue;
            m.prepare_graph(B);
            const double probe = gpu_us(stream, 3, [&] { check(m.launch_graph(B), "launch_graph"); });
            const int reps = reps_for(probe, 0.3, 10, 5000);
            const double us = gpu_us(stream, reps, [&] { check(m.launch_graph(B), "launch_graph"); });
            const double gbs = 2.0 * static_cast<double>(m.state_bytes_per_stream()) * B / (us * 1e-6) / 1e9;
            into.push_back(gbs / copy_gbs);
            std::printf("  %8zu %12.1f %14.1f %14.1f %11.3f\n", B, us, us * 1e3 / B, gbs, gbs / copy_gbs);
        }
    };
    throughput(gpu, "float32 state, cuBLAS projections above 64 streams:", out.fraction);

    // --- chunked forward (files) ----------------------------------------------------------
    // 64 streams x 1024 tokens through forward() (host to host: staging and copies included,
    // wall clock), against the same tokens as 1024 graph-launched steps of 64 streams (GPU
    // time from events, inputs already on the device: the step's best case).
    if (max_streams >= 64) {
        constexpr std::size_t kStreams = 64, kTokens = 1024;
        std::vector<float> fx(kStreams * kTokens * model.input_dim()), fy(kStreams * kTokens * model.output_dim());
        for (float& v : fx) v = unit(rng);
        gpu.forward(std::span(fx).first(kStreams * 64 * model.input_dim()),
                    std::span(fy).first(kStreams * 64 * model.output_dim()), kStreams);  // buffers, warm
        const auto t0 = Clock::now();
        gpu.forward(fx, fy, kStreams);
        const std::chrono::duration<double> seconds = Clock::now() - t0;
        out.forward_mtok = kStreams * kTokens / seconds.count() / 1e6;
        gpu.prepare_graph(kStreams);
        const double us = gpu_us(stream, 1024, [&] { check(gpu.launch_graph(kStreams), "launch_graph"); });
        out.stepped_mtok = kStreams / us;
        std::printf("  forward(), %zu streams x %zu tokens, chunks of 64: %.2f M tokens/s (host to host); "
                    "as graph steps of %zu streams: %.2f M tokens/s (GPU time)\n",
                    kStreams, kTokens, out.forward_mtok, kStreams, out.stepped_mtok);
    }
    const auto other = [&](models::cuda::CudaModelOptions options, const char* label, std::vector<double>& into) {
        models::cuda::CudaModel m(model, max_streams, stream, options);
        m.broadcast_state(start, max_streams);
        check(cudaMemcpyAsync(m.device_input(), x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice,
                              stream),
              "cudaMemcpyAsync (inputs)");
        m.synchronize();
        throughput(m, label, into);
    };
    owned.reset();  // frees its device memory before the next model is made
    models::cuda::CudaModelOptions tile;
    tile.cublas_projections = false;
    other(tile, "float32 state, the tile kernel for every projection:", out.fraction_tile);
    models::cuda::CudaModelOptions bf16;
    bf16.state_type = models::cuda::StateType::kBFloat16;
    other(bf16, "bfloat16 SSM state (bytes moved count 2 a value), cuBLAS projections:", out.fraction_bf16);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const std::size_t max_streams = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 16384;
        int device = 0;
        check(cudaGetDevice(&device), "cudaGetDevice");
        cudaDeviceProp props{};
        check(cudaGetDeviceProperties(&props, device), "cudaGetDeviceProperties");
        std::printf("bench_cuda_step on %s (compute %d.%d, %d SMs, %.1f GB)\n", props.name, props.major,
                    props.minor, props.multiProcessorCount, props.totalGlobalMem / 1e9);
        cudaStream_t stream = nullptr;
        check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
        const double copy_gbs = copy_bandwidth_gbs(stream);
        std::printf("baseline: cudaMemcpy device to device of 1 GiB: %.0f GB/s (read + written)\n", copy_gbs);

        const std::string data = STATESTREAM_DATA_DIR;
        std::vector<Case> cases = {{"transcriber", {}, data + "/models/transcriber.safetensors"},
                                   {"enhancer", {}, data + "/models/enhancer.safetensors"},
                                   {"forecaster", {}, data + "/models/forecaster.safetensors"}};
        const auto one_layer = [](models::LayerSpec layer) {
            models::Architecture a;
            a.input_dim = 16;
            a.d_model = 768;
            a.output_dim = 16;
            a.layers = {layer};
            return a;
        };
        models::LayerSpec m2;
        m2.type = models::BlockType::kMamba2;
        m2.mamba2 = {128, 64, 2, 4, 1};
        models::LayerSpec m1;
        m1.type = models::BlockType::kMamba1;
        m1.mamba1 = {16, 2, 4, 0};
        models::LayerSpec m3;
        m3.type = models::BlockType::kMamba3;
        m3.mamba3 = {128, 64, 2, 1, 0};
        cases.push_back({"mamba2 d768 N128 P64", bench::random_model_bytes(one_layer(m2), 7), ""});
        cases.push_back({"mamba1 d768 N16", bench::random_model_bytes(one_layer(m1), 7), ""});
        cases.push_back({"mamba3-siso d768 N128 P64", bench::random_model_bytes(one_layer(m3), 7), ""});
        models::LayerSpec m3mimo = m3;
        m3mimo.mamba3.mimo_rank = 4;
        cases.push_back({"mamba3-mimo4 d768 N128 P64", bench::random_model_bytes(one_layer(m3mimo), 7), ""});
        models::LayerSpec attention;
        attention.type = models::BlockType::kWindowAttention;
        attention.attention = {12, 64, 64};
        cases.push_back({"attention d768 12x64 w64", bench::random_model_bytes(one_layer(attention), 7), ""});

        const std::vector<std::size_t> batches = {1, 64, 1024, 16384};
        std::vector<Summary> summaries;
        for (const Case& c : cases) summaries.push_back(bench_model(c, max_streams, copy_gbs, stream, batches));

        std::printf("\nSummary on %s (copy %.0f GB/s). B=1 columns: GPU us a step from events; "
                    "'of copy': state bytes moved / copy bandwidth\n", props.name, copy_gbs);
        std::printf("%-26s %6s %9s %9s %9s %9s %9s %9s %9s %9s", "model", "layers", "graph", "us/layer",
                    "launches", "no PDL", "host RT", "CPU", "fwd Mt/s", "step Mt/s");
        for (const std::size_t B : batches) std::printf(" %8s", ("B=" + std::to_string(B)).c_str());
        for (const std::size_t B : batches) std::printf(" %8s", ("tile " + std::to_string(B)).c_str());
        for (const std::size_t B : batches) std::printf(" %8s", ("bf16 " + std::to_string(B)).c_str());
        std::printf("\n");
        for (const Summary& s : summaries) {
            std::printf("%-26s %6zu %9.1f %9.2f %9.1f %9.1f %9.1f %9.1f %9.2f %9.2f", s.name.c_str(), s.layers,
                        s.graph_us, s.graph_us / s.layers, s.launches_us, s.no_pdl_us, s.round_trip_us, s.cpu_us,
                        s.forward_mtok, s.stepped_mtok);
            for (const double f : s.fraction) std::printf(" %8.3f", f);
            for (const double f : s.fraction_tile) std::printf(" %8.3f", f);
            for (const double f : s.fraction_bf16) std::printf(" %8.3f", f);
            std::printf("\n");
        }
        cudaStreamDestroy(stream);
        return 0;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "bench_cuda_step: %s\n", error.what());
        return 1;
    }
}
