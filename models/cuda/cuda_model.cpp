// CudaModel: the setup (weights and state to the device, scratch, pinned staging, graphs) and
// the launch order of one step. The kernels are in the blocks' .cu files; this file is plain
// C++ against the CUDA runtime API.
#include "models/cuda/cuda_model.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "models/cuda/dense.hpp"
#include "models/cuda/mamba1_step.hpp"
#include "models/cuda/mamba2_step.hpp"
#include "models/cuda/mamba3_step.hpp"
#include "models/cuda/window_attention_step.hpp"

namespace statestream::models::cuda {

namespace {

void check(cudaError_t status, const char* what) {
    if (status != cudaSuccess) {
        throw std::runtime_error(std::string("CUDA: ") + what + " failed: " + cudaGetErrorString(status));
    }
}

// One cudaMalloc, freed with its owner.
class DeviceBuffer {
public:
    DeviceBuffer() = default;
    explicit DeviceBuffer(std::uint64_t floats) {
        if (floats > 0) check(cudaMalloc(&data_, floats * sizeof(float)), "cudaMalloc");
    }
    ~DeviceBuffer() {
        if (data_ != nullptr) cudaFree(data_);
    }
    DeviceBuffer(DeviceBuffer&& other) noexcept : data_(std::exchange(other.data_, nullptr)) {}
    DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
        std::swap(data_, other.data_);
        return *this;
    }
    [[nodiscard]] float* data() const noexcept { return static_cast<float*>(data_); }

private:
    void* data_ = nullptr;
};

// Page-locked host memory: the only kind a copy can overlap device work from.
class PinnedBuffer {
public:
    PinnedBuffer() = default;
    explicit PinnedBuffer(std::uint64_t floats) {
        if (floats > 0) check(cudaMallocHost(&data_, floats * sizeof(float)), "cudaMallocHost");
    }
    ~PinnedBuffer() {
        if (data_ != nullptr) cudaFreeHost(data_);
    }
    PinnedBuffer(PinnedBuffer&& other) noexcept : data_(std::exchange(other.data_, nullptr)) {}
    PinnedBuffer& operator=(PinnedBuffer&& other) noexcept {
        std::swap(data_, other.data_);
        return *this;
    }
    [[nodiscard]] float* data() const noexcept { return static_cast<float*>(data_); }

private:
    void* data_ = nullptr;
};

// Offsets handed out from one buffer, each 64 floats (256 bytes) aligned: every tensor and
// scratch row block starts on a 16-byte boundary, as the float4 paths need.
class Arena {
public:
    std::uint64_t take(std::uint64_t floats) {
        const std::uint64_t at = size_;
        size_ += (floats + 63) / 64 * 64;
        return at;
    }
    [[nodiscard]] std::uint64_t size() const noexcept { return size_; }

private:
    std::uint64_t size_ = 0;
};

using DeviceLayerVariant =
    std::variant<Mamba2Device, Mamba1Device, Mamba3Device, WindowAttentionDevice>;

struct DeviceLayer {
    const float* pre_norm = nullptr;  // {d_model}
    DeviceLayerVariant block;
};

// A layer's state tensor on the device: {max_streams, count}, and where the same floats sit in
// a host StreamState.
struct StateRegion {
    float* base = nullptr;
    std::uint64_t count = 0;
    std::uint64_t host_offset = 0;
};

}  // namespace

struct CudaModel::Impl {
    const SsmModel* model = nullptr;
    std::size_t max_streams = 0;
    cudaStream_t stream = nullptr;
    bool owns_stream = false;
    CudaModelOptions options;
    unsigned d_model = 0, input_dim = 0, output_dim = 0;
    float eps = 0.0f;

    DeviceBuffer weights;
    DeviceBuffer state;
    DeviceBuffer scratch;
    PinnedBuffer host_input, host_output;
    std::uint64_t weight_floats = 0;
    std::uint64_t state_floats_per_stream = 0;

    const float* input_proj_weight = nullptr;
    const float* input_proj_bias = nullptr;
    const float* norm_f = nullptr;
    const float* head_weight = nullptr;
    const float* head_bias = nullptr;
    std::vector<DeviceLayer> layers;
    std::vector<StateRegion> regions;

    float* input = nullptr;   // {max_streams, input_dim}
    float* output = nullptr;  // {max_streams, output_dim}
    float* h = nullptr;       // {max_streams, d_model}
    float* proj = nullptr;
    float* mix = nullptr;
    float* aux = nullptr;
    float* aux2 = nullptr;
    std::uint64_t proj_stride = 0, mix_stride = 0, aux_stride = 0, aux2_stride = 0;

    std::vector<std::pair<std::size_t, cudaGraphExec_t>> graphs;

    ~Impl() {
        for (auto& [streams, exec] : graphs) cudaGraphExecDestroy(exec);
        if (owns_stream && stream != nullptr) cudaStreamDestroy(stream);
    }

    StepStatus enqueue(std::size_t streams) noexcept;
    void load_weights();
    void allocate_state();
    void allocate_scratch();
};

namespace {

// The weights in one device buffer. Tensors are gathered on the host at their arena offsets,
// copied once, and the layers' pointers resolved against the device base afterwards.
class WeightUpload {
public:
    explicit WeightUpload(const ModelFile& file) : file_(file) {}
    // Returns the offset of the tensor in the upload; resolve with at().
    std::uint64_t add(const std::string& name) { return add_values(file_.tensor(name)); }
    std::uint64_t add_values(std::span<const float> values) {
        const std::uint64_t at = arena_.take(values.size());
        host_.resize(arena_.size(), 0.0f);
        std::copy(values.begin(), values.end(), host_.begin() + static_cast<std::ptrdiff_t>(at));
        return at;
    }
    // -exp(A_log), as the CPU blocks compute it at bind(), so both run on the same decays.
    std::uint64_t add_decay(const std::string& name) {
        const auto a_log = file_.tensor(name);
        std::vector<float> a(a_log.size());
        std::transform(a_log.begin(), a_log.end(), a.begin(), [](float v) { return -std::exp(v); });
        return add_values(a);
    }
    [[nodiscard]] const std::vector<float>& host() const noexcept { return host_; }

private:
    const ModelFile& file_;
    Arena arena_;
    std::vector<float> host_;
};

}  // namespace

void CudaModel::Impl::load_weights() {
    const ModelFile& file = model->file();
    const Architecture& arch = model->architecture();
    WeightUpload up(file);
    // Offsets first (pointers cannot exist before the device buffer does), resolved below.
    std::vector<std::vector<std::uint64_t>> layer_offsets;
    const std::uint64_t in_w = up.add("input_proj.weight"), in_b = up.add("input_proj.bias");
    for (std::size_t i = 0; i < arch.layers.size(); ++i) {
        const LayerSpec& spec = arch.layers[i];
        const std::string p = "layers." + std::to_string(i) + ".";
        const std::string m = p + "mixer.";
        std::vector<std::uint64_t> o{up.add(p + "norm.weight")};
        switch (spec.type) {
            case BlockType::kMamba2:
                for (const char* t : {"in_proj.weight", "conv1d.weight", "conv1d.bias", "dt_bias", "D",
                                      "norm.weight", "out_proj.weight"}) {
                    o.push_back(up.add(m + t));
                }
                o.push_back(up.add_decay(m + "A_log"));
                break;
            case BlockType::kMamba1:
                for (const char* t : {"in_proj.weight", "conv1d.weight", "conv1d.bias", "x_proj.weight",
                                      "dt_proj.weight", "dt_proj.bias", "D", "out_proj.weight"}) {
                    o.push_back(up.add(m + t));
                }
                o.push_back(up.add_decay(m + "A_log"));
                break;
            case BlockType::kMamba3:
                for (const char* t : {"in_proj.weight", "dt_bias", "D", "B_norm.weight", "C_norm.weight",
                                      "B_bias", "C_bias", "norm.weight", "out_proj.weight"}) {
                    o.push_back(up.add(m + t));
                }
                o.push_back(up.add_decay(m + "A_log"));
                if (spec.mamba3.mimo_rank > 0) {
                    o.push_back(up.add(m + "mimo_x"));
                    o.push_back(up.add(m + "mimo_o"));
                }
                break;
            case BlockType::kWindowAttention:
                o.push_back(up.add(m + "qkv_proj.weight"));
                o.push_back(up.add(m + "out_proj.weight"));
                break;
        }
        layer_offsets.push_back(std::move(o));
    }
    const std::uint64_t nf = up.add("norm_f.weight");
    const std::uint64_t head_w = up.add("head.weight"), head_b = up.add("head.bias");

    weight_floats = up.host().size();
    weights = DeviceBuffer(weight_floats);
    // On the model's stream, waited for at the end of the constructor: a plain cudaMemcpy from
    // pageable memory may return before its DMA lands, and would order only against the legacy
    // default stream, not against kernels on a non-blocking one.
    check(cudaMemcpyAsync(weights.data(), up.host().data(), weight_floats * sizeof(float),
                          cudaMemcpyHostToDevice, stream),
          "cudaMemcpyAsync (weights to the device)");
    check(cudaStreamSynchronize(stream), "cudaStreamSynchronize (weights)");
    const float* base = weights.data();
    input_proj_weight = base + in_w;
    input_proj_bias = base + in_b;
    norm_f = base + nf;
    head_weight = base + head_w;
    head_bias = base + head_b;

    const std::uint32_t dm = arch.d_model;
    for (std::size_t i = 0; i < arch.layers.size(); ++i) {
        const LayerSpec& spec = arch.layers[i];
        const std::vector<std::uint64_t>& o = layer_offsets[i];
        DeviceLayer layer;
        layer.pre_norm = base + o[0];
        switch (spec.type) {
            case BlockType::kMamba2: {
                Mamba2Device d;
                d.spec = spec.mamba2;
                d.dims = mamba2_dims(spec.mamba2, dm);
                d.in_proj = base + o[1];
                d.conv_weight = base + o[2];
                d.conv_bias = base + o[3];
                d.dt_bias = base + o[4];
                d.D = base + o[5];
                d.norm_weight = base + o[6];
                d.out_proj = base + o[7];
                d.A = base + o[8];
                layer.block = d;
                break;
            }
            case BlockType::kMamba1: {
                Mamba1Device d;
                d.spec = spec.mamba1;
                d.dims = mamba1_dims(spec.mamba1, dm);
                d.in_proj = base + o[1];
                d.conv_weight = base + o[2];
                d.conv_bias = base + o[3];
                d.x_proj = base + o[4];
                d.dt_proj = base + o[5];
                d.dt_bias = base + o[6];
                d.D = base + o[7];
                d.out_proj = base + o[8];
                d.A = base + o[9];
                layer.block = d;
                break;
            }
            case BlockType::kMamba3: {
                Mamba3Device d;
                d.spec = spec.mamba3;
                d.dims = mamba3_dims(spec.mamba3, dm);
                d.in_proj = base + o[1];
                d.dt_bias = base + o[2];
                d.D = base + o[3];
                d.b_norm = base + o[4];
                d.c_norm = base + o[5];
                d.b_bias = base + o[6];
                d.c_bias = base + o[7];
                d.norm_weight = base + o[8];
                d.out_proj = base + o[9];
                d.A = base + o[10];
                if (spec.mamba3.mimo_rank > 0) {
                    d.mimo_x = base + o[11];
                    d.mimo_o = base + o[12];
                }
                layer.block = d;
                break;
            }
            case BlockType::kWindowAttention: {
                WindowAttentionDevice d;
                d.spec = spec.attention;
                d.qkv_proj = base + o[1];
                d.out_proj = base + o[2];
                layer.block = d;
                break;
            }
        }
        layers.push_back(layer);
    }
}

void CudaModel::Impl::allocate_state() {
    // Each state tensor of each layer gets its own {max_streams, count} region: rows of one
    // tensor are contiguous across streams (coalesced, 16-byte aligned), unlike the host layout
    // where a stream's tensors follow each other.
    Arena arena;
    std::vector<std::uint64_t> offsets;
    const auto& layout = model->state_layout();
    for (const auto& tensors : layout) {
        for (const StateTensor& t : tensors) {
            offsets.push_back(arena.take(t.count * max_streams));
            state_floats_per_stream += t.count;
        }
    }
    state = DeviceBuffer(arena.size());
    // On the model's stream: cudaMemset runs on the legacy default stream, which a non-blocking
    // stream does not wait for, so a large zeroing could overwrite the first states uploaded
    // after it.
    check(cudaMemsetAsync(state.data(), 0, arena.size() * sizeof(float), stream),
          "cudaMemsetAsync (zero state)");
    std::size_t next = 0;
    for (std::size_t i = 0; i < layout.size(); ++i) {
        std::vector<float*> bases;
        for (const StateTensor& t : layout[i]) {
            float* region = state.data() + offsets[next++];
            regions.push_back({region, t.count, t.offset});
            bases.push_back(region);
        }
        // block_state.cpp's order: Mamba-2 and Mamba-1 ssm, conv; Mamba-3 ssm, prev_x, prev_b,
        // angle, angle_residual; attention keys, values, cursor.
        std::visit(
            [&](auto& d) {
                using T = std::decay_t<decltype(d)>;
                if constexpr (std::is_same_v<T, Mamba2Device> || std::is_same_v<T, Mamba1Device>) {
                    d.ssm = bases.at(0);
                    d.conv = bases.at(1);
                } else if constexpr (std::is_same_v<T, Mamba3Device>) {
                    d.ssm = bases.at(0);
                    d.prev_x = bases.at(1);
                    d.prev_b = bases.at(2);
                    d.angle = bases.at(3);
                    d.angle_residual = bases.at(4);
                } else {
                    d.keys = bases.at(0);
                    d.values = bases.at(1);
                    d.cursor = bases.at(2);
                }
            },
            layers[i].block);
    }
}

void CudaModel::Impl::allocate_scratch() {
    const Architecture& arch = model->architecture();
    for (const LayerSpec& spec : arch.layers) {
        std::uint64_t p = 0, m = 0, x1 = 0, x2 = 0;
        switch (spec.type) {
            case BlockType::kMamba2: {
                const Mamba2Dims d = mamba2_dims(spec.mamba2, arch.d_model);
                p = d.in_proj_dim;
                m = d.d_inner;
                break;
            }
            case BlockType::kMamba1: {
                const Mamba1Dims d = mamba1_dims(spec.mamba1, arch.d_model);
                p = 2 * d.d_inner;
                m = d.d_inner;
                x1 = d.x_proj_dim;
                x2 = d.d_inner;
                break;
            }
            case BlockType::kMamba3: {
                const Mamba3Dims d = mamba3_dims(spec.mamba3, arch.d_model);
                p = d.in_proj_dim;
                m = d.d_inner;
                break;
            }
            case BlockType::kWindowAttention: {
                const std::uint64_t inner = std::uint64_t{spec.attention.n_heads} * spec.attention.head_dim;
                p = 3 * inner;
                m = inner;
                break;
            }
        }
        proj_stride = std::max(proj_stride, padded_floats(p));
        mix_stride = std::max(mix_stride, padded_floats(m));
        aux_stride = std::max(aux_stride, padded_floats(x1));
        aux2_stride = std::max(aux2_stride, padded_floats(x2));
    }
    const std::uint64_t rows = max_streams;
    Arena arena;
    const std::uint64_t at_input = arena.take(rows * input_dim);
    const std::uint64_t at_output = arena.take(rows * output_dim);
    const std::uint64_t at_h = arena.take(rows * d_model);
    const std::uint64_t at_proj = arena.take(rows * proj_stride);
    const std::uint64_t at_mix = arena.take(rows * mix_stride);
    const std::uint64_t at_aux = arena.take(rows * aux_stride);
    const std::uint64_t at_aux2 = arena.take(rows * aux2_stride);
    scratch = DeviceBuffer(arena.size());
    // All ones bits: NaN. A stage that read scratch nothing wrote would put NaN in the outputs.
    check(cudaMemsetAsync(scratch.data(), 0xff, arena.size() * sizeof(float), stream),
          "cudaMemsetAsync (scratch)");
    input = scratch.data() + at_input;
    output = scratch.data() + at_output;
    h = scratch.data() + at_h;
    proj = scratch.data() + at_proj;
    mix = scratch.data() + at_mix;
    aux = scratch.data() + at_aux;
    aux2 = scratch.data() + at_aux2;
    host_input = PinnedBuffer(rows * input_dim);
    host_output = PinnedBuffer(rows * output_dim);
}

StepStatus CudaModel::Impl::enqueue(std::size_t streams) noexcept {
    const auto fail = [](cudaError_t e) { return StepStatus{static_cast<int>(e), cudaGetErrorString(e)}; };
    if (streams == 0 || streams > max_streams) return fail(cudaErrorInvalidValue);
    const bool programmatic = options.programmatic_launch;
    LinearArgs in;
    in.x = input;
    in.x_stride = input_dim;
    in.weight = input_proj_weight;
    in.bias = input_proj_bias;
    in.rows = streams;
    in.in_dim = input_dim;
    in.out_dim = d_model;
    cudaError_t status = linear_store(in, h, d_model, stream, programmatic);
    if (status != cudaSuccess) return fail(status);

    LayerIo io;
    io.h = h;
    io.h_stride = d_model;
    io.d_model = d_model;
    io.eps = eps;
    io.rows = streams;
    io.proj = proj;
    io.proj_stride = proj_stride;
    io.mix = mix;
    io.mix_stride = mix_stride;
    io.aux = aux;
    io.aux_stride = aux_stride;
    io.aux2 = aux2;
    io.aux2_stride = aux2_stride;
    io.stream = stream;
    io.programmatic = programmatic;
    for (const DeviceLayer& layer : layers) {
        io.pre_norm = layer.pre_norm;
        switch (layer.block.index()) {
            case 0: status = mamba2_step(*std::get_if<0>(&layer.block), io); break;
            case 1: status = mamba1_step(*std::get_if<1>(&layer.block), io); break;
            case 2: status = mamba3_step(*std::get_if<2>(&layer.block), io); break;
            default: status = window_attention_step(*std::get_if<3>(&layer.block), io); break;
        }
        if (status != cudaSuccess) return fail(status);
    }

    LinearArgs head;
    head.x = h;
    head.x_stride = d_model;
    head.weight = head_weight;
    head.bias = head_bias;
    head.rows = streams;
    head.in_dim = d_model;
    head.out_dim = output_dim;
    head.norm = {norm_f, d_model, eps};
    status = linear_store(head, output, output_dim, stream, programmatic);
    if (status != cudaSuccess) return fail(status);
    return {};
}

namespace {

// What the kernels do not cover, refused at setup with the layer and the reason.
void check_supported(const Architecture& arch) {
    for (std::size_t i = 0; i < arch.layers.size(); ++i) {
        const LayerSpec& spec = arch.layers[i];
        const std::string where = "layer " + std::to_string(i) + " (" +
                                  std::string(block_type_name(spec.type)) + "): ";
        if (spec.type == BlockType::kMamba2 && spec.mamba2.n_groups > kMaxNormGroups) {
            throw std::runtime_error(where + "n_groups " + std::to_string(spec.mamba2.n_groups) +
                                     " is above the CUDA kernels' " + std::to_string(kMaxNormGroups) +
                                     " (models/cuda/layer_io.hpp); run it on the CPU");
        }
        if (spec.type == BlockType::kMamba3) {
            const Mamba3Dims d = mamba3_dims(spec.mamba3, arch.d_model);
            if (spec.mamba3.n_groups > kMaxNormGroups) {
                throw std::runtime_error(where + "n_groups " + std::to_string(spec.mamba3.n_groups) +
                                         " is above the CUDA kernels' " + std::to_string(kMaxNormGroups) +
                                         "; run it on the CPU");
            }
            const std::size_t bytes = mamba3_shared_bytes(spec.mamba3, d);
            if (bytes > kDefaultSharedBytes) {
                throw std::runtime_error(where + "the per-head kernel needs " + std::to_string(bytes) +
                                         " bytes of shared memory (ranks x (3 d_state + 2 head_dim) "
                                         "floats), above " + std::to_string(kDefaultSharedBytes) +
                                         "; run it on the CPU");
            }
        }
    }
}

}  // namespace

CudaModel::CudaModel(const SsmModel& model, std::size_t max_streams, StreamHandle stream,
                     CudaModelOptions options)
    : impl_(std::make_unique<Impl>()) {
    Impl& m = *impl_;
    if (max_streams == 0) throw std::invalid_argument("CudaModel: max_streams must be at least 1");
    const Architecture& arch = model.architecture();
    check_supported(arch);
    m.model = &model;
    m.max_streams = max_streams;
    m.options = options;
    m.d_model = arch.d_model;
    m.input_dim = arch.input_dim;
    m.output_dim = arch.output_dim;
    m.eps = static_cast<float>(arch.norm_eps);
    if (stream != nullptr) {
        m.stream = reinterpret_cast<cudaStream_t>(stream);
    } else {
        // Graph capture needs a stream other than the legacy default one.
        check(cudaStreamCreateWithFlags(&m.stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        m.owns_stream = true;
    }
    m.load_weights();
    m.allocate_state();
    m.allocate_scratch();
    synchronize();
}

CudaModel::~CudaModel() = default;

const SsmModel& CudaModel::model() const noexcept { return *impl_->model; }
std::size_t CudaModel::max_streams() const noexcept { return impl_->max_streams; }
std::size_t CudaModel::input_dim() const noexcept { return impl_->input_dim; }
std::size_t CudaModel::output_dim() const noexcept { return impl_->output_dim; }
StreamHandle CudaModel::stream() const noexcept { return reinterpret_cast<StreamHandle>(impl_->stream); }
std::uint64_t CudaModel::state_bytes_per_stream() const noexcept {
    return impl_->state_floats_per_stream * sizeof(float);
}
std::uint64_t CudaModel::weight_bytes() const noexcept { return impl_->weight_floats * sizeof(float); }
float* CudaModel::device_input() noexcept { return impl_->input; }
const float* CudaModel::device_output() const noexcept { return impl_->output; }

StepStatus CudaModel::enqueue_step(std::size_t streams) noexcept { return impl_->enqueue(streams); }

void CudaModel::prepare_graph(std::size_t streams) {
    Impl& m = *impl_;
    for (const auto& [count, exec] : m.graphs) {
        if (count == streams) return;
    }
    check(cudaStreamBeginCapture(m.stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
    const StepStatus captured = m.enqueue(streams);
    cudaGraph_t graph = nullptr;
    const cudaError_t ended = cudaStreamEndCapture(m.stream, &graph);
    if (!captured.ok()) {
        if (graph != nullptr) cudaGraphDestroy(graph);
        throw std::runtime_error(std::string("CUDA: capturing a step of ") + std::to_string(streams) +
                                 " streams failed: " + captured.message);
    }
    check(ended, "cudaStreamEndCapture");
    cudaGraphExec_t exec = nullptr;
    const cudaError_t instantiated = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    check(instantiated, "cudaGraphInstantiate");
    m.graphs.emplace_back(streams, exec);
}

StepStatus CudaModel::launch_graph(std::size_t streams) noexcept {
    for (const auto& [count, exec] : impl_->graphs) {
        if (count == streams) {
            const cudaError_t status = cudaGraphLaunch(exec, impl_->stream);
            return {static_cast<int>(status), cudaGetErrorString(status)};
        }
    }
    return {static_cast<int>(cudaErrorInvalidValue), "launch_graph: no graph prepared for this stream count"};
}

namespace {

void check_state(const SsmModel& model, const StreamState& state, std::size_t stream_index,
                 std::size_t max_streams) {
    if (state.values.size() != model.state_floats()) {
        throw std::invalid_argument("CudaModel: a state of " + std::to_string(state.values.size()) +
                                    " floats, expected " + std::to_string(model.state_floats()));
    }
    if (stream_index >= max_streams) {
        throw std::out_of_range("CudaModel: stream " + std::to_string(stream_index) + " of " +
                                std::to_string(max_streams));
    }
}

}  // namespace

void CudaModel::upload_state(std::size_t stream_index, const StreamState& state) {
    Impl& m = *impl_;
    check_state(*m.model, state, stream_index, m.max_streams);
    for (const StateRegion& r : m.regions) {
        check(cudaMemcpyAsync(r.base + stream_index * r.count, state.values.data() + r.host_offset,
                              r.count * sizeof(float), cudaMemcpyHostToDevice, m.stream),
              "cudaMemcpyAsync (state to the device)");
    }
    synchronize();
}

void CudaModel::download_state(std::size_t stream_index, StreamState& state) const {
    const Impl& m = *impl_;
    check_state(*m.model, state, stream_index, m.max_streams);
    for (const StateRegion& r : m.regions) {
        check(cudaMemcpyAsync(state.values.data() + r.host_offset, r.base + stream_index * r.count,
                              r.count * sizeof(float), cudaMemcpyDeviceToHost, m.stream),
              "cudaMemcpyAsync (state from the device)");
    }
    synchronize();
}

void CudaModel::broadcast_state(const StreamState& state, std::size_t streams) {
    Impl& m = *impl_;
    if (streams == 0) return;
    check_state(*m.model, state, streams - 1, m.max_streams);
    upload_state(0, state);
    // Doubling copies: log2(streams) device-to-device copies per tensor.
    for (const StateRegion& r : m.regions) {
        for (std::size_t done = 1; done < streams;) {
            const std::size_t n = std::min(done, streams - done);
            check(cudaMemcpyAsync(r.base + done * r.count, r.base, n * r.count * sizeof(float),
                                  cudaMemcpyDeviceToDevice, m.stream),
                  "cudaMemcpyAsync (broadcast state)");
            done += n;
        }
    }
    synchronize();
}

void CudaModel::step_batch(std::span<const float> x, std::span<float> y) {
    Impl& m = *impl_;
    const std::size_t streams = x.size() / m.input_dim;
    if (streams == 0 || streams > m.max_streams || x.size() != streams * m.input_dim ||
        y.size() != streams * m.output_dim) {
        throw std::invalid_argument("CudaModel::step_batch: x has " + std::to_string(x.size()) +
                                    " floats and y " + std::to_string(y.size()) + "; expected B x " +
                                    std::to_string(m.input_dim) + " and B x " +
                                    std::to_string(m.output_dim) + " with 1 <= B <= " +
                                    std::to_string(m.max_streams));
    }
    std::memcpy(m.host_input.data(), x.data(), x.size_bytes());
    check(cudaMemcpyAsync(m.input, m.host_input.data(), x.size_bytes(), cudaMemcpyHostToDevice, m.stream),
          "cudaMemcpyAsync (inputs to the device)");
    bool graphed = false;
    for (const auto& [count, exec] : m.graphs) graphed = graphed || count == streams;
    const StepStatus status = graphed ? launch_graph(streams) : enqueue_step(streams);
    if (!status.ok()) throw std::runtime_error(std::string("CUDA: a step failed: ") + status.message);
    check(cudaMemcpyAsync(m.host_output.data(), m.output, y.size_bytes(), cudaMemcpyDeviceToHost, m.stream),
          "cudaMemcpyAsync (outputs from the device)");
    synchronize();
    std::memcpy(y.data(), m.host_output.data(), y.size_bytes());
}

void CudaModel::synchronize() const {
    check(cudaStreamSynchronize(impl_->stream), "cudaStreamSynchronize");
}

}  // namespace statestream::models::cuda
