// CudaModel: the setup (weights and state to the device, scratch, pinned staging, graphs) and
// the launch order of one step. The kernels are in the blocks' .cu files; this file is plain
// C++ against the CUDA runtime API.
#include "models/cuda/cuda_model.hpp"

#include <cublas_v2.h>
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
    void* base = nullptr;
    std::uint64_t count = 0;        // values a stream
    std::uint64_t host_offset = 0;
    bool bf16 = false;              // stored as bfloat16 (2 bytes a value), else float32
    [[nodiscard]] std::uint64_t bytes() const noexcept { return count * (bf16 ? 2 : 4); }
    [[nodiscard]] char* row(std::uint64_t stream) const noexcept {
        return static_cast<char*>(base) + stream * bytes();
    }
};

// Host-side conversions, the same rounding as the kernels' __float2bfloat16_rn: to nearest,
// ties to even; NaN stays a (quiet) NaN.
std::uint16_t to_bfloat16(float value) noexcept {
    std::uint32_t bits = 0;
    std::memcpy(&bits, &value, sizeof bits);
    if ((bits & 0x7fffffffU) > 0x7f800000U) return static_cast<std::uint16_t>((bits >> 16) | 0x40U);
    bits += 0x7fffU + ((bits >> 16) & 1U);
    return static_cast<std::uint16_t>(bits >> 16);
}
float from_bfloat16(std::uint16_t value) noexcept {
    const std::uint32_t bits = static_cast<std::uint32_t>(value) << 16;
    float out = 0.0f;
    std::memcpy(&out, &bits, sizeof out);
    return out;
}

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
    std::uint64_t state_bytes_per_stream = 0;

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

    // forward()'s rows: streams x chunk tokens, allocated on first use.
    struct ForwardBuffers {
        std::uint64_t rows = 0;
        DeviceBuffer device;
        PinnedBuffer host_input, host_output;
        float* input = nullptr;   // {rows, input_dim}: row b * tokens + t
        float* output = nullptr;  // {rows, output_dim}
        float* h = nullptr;       // {rows, d_model}
        float* proj = nullptr;    // {rows, proj_stride}
        float* mix = nullptr;     // {rows, mix_stride}
        GemmPath gemm;            // its own scratch rows; the model's cuBLAS handle
    } fwd;

    // cuBLAS for the large-batch projections (CudaModelOptions::cublas_projections).
    cublasHandle_t cublas = nullptr;
    DeviceBuffer cublas_workspace;
    DeviceBuffer gemm_scratch;
    GemmPath gemm;

    ~Impl() {
        for (auto& [streams, exec] : graphs) cudaGraphExecDestroy(exec);
        if (cublas != nullptr) cublasDestroy(cublas);
        if (owns_stream && stream != nullptr) cudaStreamDestroy(stream);
    }

    StepStatus enqueue(std::size_t streams) noexcept;
    void load_weights();
    void allocate_state();
    void allocate_scratch();
    void set_up_cublas();
    void reserve_forward(std::uint64_t rows);
    [[nodiscard]] StepStatus enqueue_forward_chunk(std::size_t streams, unsigned tokens) noexcept;
    [[nodiscard]] const GemmPath* gemm_path() const noexcept { return cublas != nullptr ? &gemm : nullptr; }
    // A step's view of `rows` streams whose residual rows are h {rows, h_stride}: the step's
    // scratch rows (max_streams of them), the model's stream and launch mode, cuBLAS if on.
    [[nodiscard]] LayerIo step_io(float* h_rows, std::uint64_t h_stride, std::uint64_t rows) const noexcept {
        LayerIo io;
        io.h = h_rows;
        io.h_stride = h_stride;
        io.d_model = d_model;
        io.eps = eps;
        io.rows = rows;
        io.proj = proj;
        io.proj_stride = proj_stride;
        io.mix = mix;
        io.mix_stride = mix_stride;
        io.aux = aux;
        io.aux_stride = aux_stride;
        io.aux2 = aux2;
        io.aux2_stride = aux2_stride;
        io.stream = stream;
        io.programmatic = options.programmatic_launch;
        io.gemm = gemm_path();
        return io;
    }
    // The model's first and last products: input_proj of raw inputs, head of norm_f(h).
    [[nodiscard]] LinearArgs input_linear(const float* x, std::uint64_t rows, const GemmPath* via) const noexcept {
        LinearArgs a;
        a.x = x;
        a.x_stride = input_dim;
        a.weight = input_proj_weight;
        a.bias = input_proj_bias;
        a.rows = rows;
        a.in_dim = input_dim;
        a.out_dim = d_model;
        a.gemm = via;
        return a;
    }
    [[nodiscard]] LinearArgs head_linear(const float* h_rows, std::uint64_t rows, const GemmPath* via) const noexcept {
        LinearArgs a;
        a.x = h_rows;
        a.x_stride = d_model;
        a.weight = head_weight;
        a.bias = head_bias;
        a.rows = rows;
        a.in_dim = d_model;
        a.out_dim = output_dim;
        a.norm = {norm_f, d_model, eps};
        a.gemm = via;
        return a;
    }
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
    const bool bf16 = options.state_type == StateType::kBFloat16;
    const auto stored_bf16 = [&](std::size_t layer, const StateTensor& t) {
        return bf16 && t.name == "ssm" &&
               model->architecture().layers[layer].type != BlockType::kWindowAttention;
    };
    for (std::size_t i = 0; i < layout.size(); ++i) {
        for (const StateTensor& t : layout[i]) {
            const bool half = stored_bf16(i, t);
            // a bfloat16 region takes half as many floats of the arena (rounded up)
            offsets.push_back(arena.take(half ? (t.count * max_streams + 1) / 2 : t.count * max_streams));
            state_bytes_per_stream += t.count * (half ? 2 : 4);
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
        std::vector<void*> bases;
        for (const StateTensor& t : layout[i]) {
            float* region = state.data() + offsets[next++];
            regions.push_back({region, t.count, t.offset, stored_bf16(i, t)});
            bases.push_back(region);
        }
        // block_state.cpp's order: Mamba-2 and Mamba-1 ssm, conv; Mamba-3 ssm, prev_x, prev_b,
        // angle, angle_residual; attention keys, values, cursor.
        std::visit(
            [&](auto& d) {
                using T = std::decay_t<decltype(d)>;
                const auto floats = [&](std::size_t k) { return static_cast<float*>(bases.at(k)); };
                if constexpr (std::is_same_v<T, Mamba2Device> || std::is_same_v<T, Mamba1Device>) {
                    d.ssm = bases.at(0);
                    d.bf16_state = bf16;
                    d.conv = floats(1);
                } else if constexpr (std::is_same_v<T, Mamba3Device>) {
                    d.ssm = bases.at(0);
                    d.bf16_state = bf16;
                    d.prev_x = floats(1);
                    d.prev_b = floats(2);
                    d.angle = floats(3);
                    d.angle_residual = floats(4);
                } else {
                    d.keys = floats(0);
                    d.values = floats(1);
                    d.cursor = floats(2);
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

namespace {

void check_cublas(cublasStatus_t status, const char* what) {
    if (status != CUBLAS_STATUS_SUCCESS) {
        throw std::runtime_error(std::string("cuBLAS: ") + what + " failed: " + cublasGetStatusString(status) +
                                 "; set CudaModelOptions::cublas_projections = false to do without it");
    }
}

// cuBLAS picks its kernels by shape; 32 MiB is what its documentation asks for on Hopper, and
// a workspace given up front is what lets its calls be captured into a graph.
constexpr std::uint64_t kCublasWorkspaceBytes = 32ULL << 20;

}  // namespace

void CudaModel::Impl::set_up_cublas() {
    if (!options.cublas_projections || max_streams <= kNarrowMaxRowsHost) return;
    check_cublas(cublasCreate(&cublas), "cublasCreate");
    check_cublas(cublasSetStream(cublas, stream), "cublasSetStream");
    check_cublas(cublasSetMathMode(cublas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode (float32, no TF32)");
    cublas_workspace = DeviceBuffer(kCublasWorkspaceBytes / sizeof(float));
    check_cublas(cublasSetWorkspace(cublas, cublas_workspace.data(), kCublasWorkspaceBytes),
                 "cublasSetWorkspace");
    // The widest input (a norm's rows) and output of any projection of the model.
    const std::uint64_t x_stride = padded_floats(std::max<std::uint64_t>({d_model, mix_stride, input_dim}));
    const std::uint64_t y_stride = padded_floats(
        std::max<std::uint64_t>({d_model, output_dim, proj_stride, aux_stride, aux2_stride, mix_stride}));
    Arena arena;
    const std::uint64_t at_x = arena.take(max_streams * x_stride);
    const std::uint64_t at_y = arena.take(max_streams * y_stride);
    gemm_scratch = DeviceBuffer(arena.size());
    gemm.handle = cublas;
    gemm.x = gemm_scratch.data() + at_x;
    gemm.x_stride = x_stride;
    gemm.y = gemm_scratch.data() + at_y;
    gemm.y_stride = y_stride;
    gemm.min_rows = kNarrowMaxRowsHost + 1;
}

namespace {

// One step of one layer, whatever its block type.
cudaError_t step_layer(const DeviceLayer& layer, const LayerIo& io) noexcept {
    switch (layer.block.index()) {
        case 0: return mamba2_step(*std::get_if<0>(&layer.block), io);
        case 1: return mamba1_step(*std::get_if<1>(&layer.block), io);
        case 2: return mamba3_step(*std::get_if<2>(&layer.block), io);
        default: return window_attention_step(*std::get_if<3>(&layer.block), io);
    }
}

}  // namespace

StepStatus CudaModel::Impl::enqueue(std::size_t streams) noexcept {
    const auto fail = [](cudaError_t e) { return StepStatus{static_cast<int>(e), cudaGetErrorString(e)}; };
    if (streams == 0 || streams > max_streams) return fail(cudaErrorInvalidValue);
    const bool programmatic = options.programmatic_launch;
    cudaError_t status = linear_store(input_linear(input, streams, gemm_path()), h, d_model, stream, programmatic);
    if (status != cudaSuccess) return fail(status);

    LayerIo io = step_io(h, d_model, streams);
    for (const DeviceLayer& layer : layers) {
        io.pre_norm = layer.pre_norm;
        status = step_layer(layer, io);
        if (status != cudaSuccess) return fail(status);
    }

    status = linear_store(head_linear(h, streams, gemm_path()), output, output_dim, stream, programmatic);
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
    m.set_up_cublas();
    synchronize();
}

CudaModel::~CudaModel() = default;

const SsmModel& CudaModel::model() const noexcept { return *impl_->model; }
std::size_t CudaModel::max_streams() const noexcept { return impl_->max_streams; }
std::size_t CudaModel::input_dim() const noexcept { return impl_->input_dim; }
std::size_t CudaModel::output_dim() const noexcept { return impl_->output_dim; }
StreamHandle CudaModel::stream() const noexcept { return reinterpret_cast<StreamHandle>(impl_->stream); }
std::uint64_t CudaModel::state_bytes_per_stream() const noexcept { return impl_->state_bytes_per_stream; }
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
    std::vector<std::uint16_t> rounded;
    for (const StateRegion& r : m.regions) {
        const void* from = state.values.data() + r.host_offset;
        if (r.bf16) {
            rounded.resize(r.count);
            for (std::uint64_t k = 0; k < r.count; ++k) rounded[k] = to_bfloat16(state.values[r.host_offset + k]);
            from = rounded.data();
        }
        check(cudaMemcpyAsync(r.row(stream_index), from, r.bytes(), cudaMemcpyHostToDevice, m.stream),
              "cudaMemcpyAsync (state to the device)");
        if (r.bf16) synchronize();  // `rounded` is reused by the next region
    }
    synchronize();
}

void CudaModel::download_state(std::size_t stream_index, StreamState& state) const {
    const Impl& m = *impl_;
    check_state(*m.model, state, stream_index, m.max_streams);
    std::vector<std::uint16_t> stored;
    for (const StateRegion& r : m.regions) {
        if (r.bf16) {
            stored.resize(r.count);
            check(cudaMemcpyAsync(stored.data(), r.row(stream_index), r.bytes(), cudaMemcpyDeviceToHost,
                                  m.stream),
                  "cudaMemcpyAsync (state from the device)");
            synchronize();
            for (std::uint64_t k = 0; k < r.count; ++k) state.values[r.host_offset + k] = from_bfloat16(stored[k]);
            continue;
        }
        check(cudaMemcpyAsync(state.values.data() + r.host_offset, r.row(stream_index), r.bytes(),
                              cudaMemcpyDeviceToHost, m.stream),
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
            check(cudaMemcpyAsync(r.row(done), r.base, n * r.bytes(), cudaMemcpyDeviceToDevice, m.stream),
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

void CudaModel::Impl::reserve_forward(std::uint64_t rows) {
    if (rows <= fwd.rows) return;
    fwd = ForwardBuffers{};
    Arena arena;
    const std::uint64_t at_input = arena.take(rows * input_dim);
    const std::uint64_t at_output = arena.take(rows * output_dim);
    const std::uint64_t at_h = arena.take(rows * d_model);
    const std::uint64_t at_proj = arena.take(rows * proj_stride);
    const std::uint64_t at_mix = arena.take(rows * mix_stride);
    const std::uint64_t at_gx = cublas != nullptr ? arena.take(rows * gemm.x_stride) : 0;
    const std::uint64_t at_gy = cublas != nullptr ? arena.take(rows * gemm.y_stride) : 0;
    fwd.device = DeviceBuffer(arena.size());
    float* base = fwd.device.data();
    fwd.input = base + at_input;
    fwd.output = base + at_output;
    fwd.h = base + at_h;
    fwd.proj = base + at_proj;
    fwd.mix = base + at_mix;
    if (cublas != nullptr) {
        fwd.gemm = gemm;
        fwd.gemm.x = base + at_gx;
        fwd.gemm.y = base + at_gy;
    }
    fwd.host_input = PinnedBuffer(rows * input_dim);
    fwd.host_output = PinnedBuffer(rows * output_dim);
    fwd.rows = rows;
}

StepStatus CudaModel::Impl::enqueue_forward_chunk(std::size_t streams, unsigned tokens) noexcept {
    const auto fail = [](cudaError_t e) { return StepStatus{static_cast<int>(e), cudaGetErrorString(e)}; };
    const bool programmatic = options.programmatic_launch;
    const std::uint64_t rows = std::uint64_t{streams} * tokens;
    const GemmPath* chunk_gemm = cublas != nullptr ? &fwd.gemm : nullptr;
    cudaError_t status =
        linear_store(input_linear(fwd.input, rows, chunk_gemm), fwd.h, d_model, stream, programmatic);
    if (status != cudaSuccess) return fail(status);

    // Every token of every stream at once (Mamba-2's chunked path), in forward()'s own rows.
    LayerIo chunk = step_io(fwd.h, d_model, rows);
    chunk.proj = fwd.proj;
    chunk.mix = fwd.mix;
    chunk.aux = nullptr;
    chunk.aux2 = nullptr;
    chunk.gemm = chunk_gemm;
    // One token of every stream: the step's kernels over rows b * tokens + t of fwd.h.
    LayerIo step = step_io(fwd.h, std::uint64_t{tokens} * d_model, streams);
    for (const DeviceLayer& layer : layers) {
        chunk.pre_norm = layer.pre_norm;
        step.pre_norm = layer.pre_norm;
        if (const auto* m2 = std::get_if<Mamba2Device>(&layer.block)) {
            status = mamba2_forward(*m2, chunk, tokens);
            if (status != cudaSuccess) return fail(status);
            continue;
        }
        for (unsigned t = 0; t < tokens; ++t) {
            step.h = fwd.h + std::uint64_t{t} * d_model;
            status = step_layer(layer, step);
            if (status != cudaSuccess) return fail(status);
        }
    }

    status = linear_store(head_linear(fwd.h, rows, chunk_gemm), fwd.output, output_dim, stream, programmatic);
    if (status != cudaSuccess) return fail(status);
    return {};
}

void CudaModel::forward(std::span<const float> x, std::span<float> y, std::size_t streams) {
    Impl& m = *impl_;
    const std::size_t in = m.input_dim, out = m.output_dim;
    const std::size_t tokens = streams == 0 ? 0 : x.size() / (streams * in);
    if (streams == 0 || streams > m.max_streams || tokens == 0 || x.size() != streams * tokens * in ||
        y.size() != streams * tokens * out) {
        throw std::invalid_argument("CudaModel::forward: x has " + std::to_string(x.size()) + " floats and y " +
                                    std::to_string(y.size()) + " for " + std::to_string(streams) +
                                    " streams; expected B x T x " + std::to_string(in) + " and B x T x " +
                                    std::to_string(out) + " with 1 <= B <= " + std::to_string(m.max_streams) +
                                    " and T >= 1");
    }
    const std::size_t chunk = std::max(1u, m.options.forward_chunk);
    m.reserve_forward(std::uint64_t{streams} * std::min(chunk, tokens));
    for (std::size_t t0 = 0; t0 < tokens; t0 += chunk) {
        const std::size_t n = std::min(chunk, tokens - t0);
        float* staged = m.fwd.host_input.data();
        for (std::size_t b = 0; b < streams; ++b) {
            std::memcpy(staged + b * n * in, x.data() + (b * tokens + t0) * in, n * in * sizeof(float));
        }
        check(cudaMemcpyAsync(m.fwd.input, staged, streams * n * in * sizeof(float), cudaMemcpyHostToDevice,
                              m.stream),
              "cudaMemcpyAsync (forward inputs to the device)");
        const StepStatus status = m.enqueue_forward_chunk(streams, static_cast<unsigned>(n));
        if (!status.ok()) throw std::runtime_error(std::string("CUDA: a forward chunk failed: ") + status.message);
        check(cudaMemcpyAsync(m.fwd.host_output.data(), m.fwd.output, streams * n * out * sizeof(float),
                              cudaMemcpyDeviceToHost, m.stream),
              "cudaMemcpyAsync (forward outputs from the device)");
        synchronize();
        for (std::size_t b = 0; b < streams; ++b) {
            std::memcpy(y.data() + (b * tokens + t0) * out, m.fwd.host_output.data() + b * n * out,
                        n * out * sizeof(float));
        }
    }
}

void CudaModel::synchronize() const {
    check(cudaStreamSynchronize(impl_->stream), "cudaStreamSynchronize");
}

}  // namespace statestream::models::cuda
