#pragma once
// An SsmModel's batched step on a CUDA device: weights copied to the device once, the
// recurrent state of up to max_streams streams kept there as rows of device buffers, and one
// step of streams [0, B) enqueued on a caller-given stream as a few kernels per layer, or
// replayed as one CUDA graph; forward() runs files in chunks of tokens. float32 or bfloat16
// state; every offset is 64-bit, so any B that fits in device memory is correct. docs/cuda.md has the kernels, the measurements and what is missing.
//
//   x {B, input_dim} -> input_proj -> h; per layer: h += mixer(RMSNorm(h)); y = head(RMSNorm(h))
//
// Each stream's result equals SsmModel::step() of the same stream up to float rounding
// (tests/models/check_cuda_model_plain.cpp measures how far). Block types: Mamba-2, Mamba-1,
// Mamba-3 (SISO and MIMO) and window attention.
//
// This header needs no CUDA headers, so that callers built by the host compiler can use it; a
// build without CUDA links cuda_model_absent.cpp, whose constructor throws.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "models/ssm_model.hpp"

struct CUstream_st;  // cudaStream_t is `CUstream_st*`; declared here to keep cuda_runtime.h out

namespace statestream::models::cuda {

using StreamHandle = CUstream_st*;  // a cudaStream_t; nullptr is the legacy default stream

// What a real-time call reports instead of throwing: the first CUDA error it met, if any.
struct StepStatus {
    int cuda_error = 0;            // a cudaError_t; 0 is cudaSuccess
    const char* message = "";      // cudaGetErrorString of it: a static string
    [[nodiscard]] bool ok() const noexcept { return cuda_error == 0; }
};

// How the SSM state (each Mamba block's `ssm` tensor, nearly all of a stream's state) is
// stored on the device. The arithmetic is float32 either way; bfloat16 halves the bytes a step
// reads and writes, at about 3 significant digits per stored value (docs/cuda.md gives the
// measured error against the CPU). Conv tails, Mamba-3's previous inputs and angles, and
// attention rings stay float32.
enum class StateType : std::uint8_t { kFloat32, kBFloat16 };

struct CudaModelOptions {
    // Launch each kernel with programmatic dependent launch (Hopper and later): the next
    // kernel of a step is scheduled while the previous one runs and waits on the device for its
    // results, which hides most of the gap between the small kernels of a B = 1 step.
    bool programmatic_launch = true;
    // Projections of more than 64 rows (a step of more than 64 streams) as a row-norm kernel,
    // a cuBLAS SGEMM and an epilogue kernel, instead of the hand-written tile kernel: at large
    // B the projections are most of a step's arithmetic, and cuBLAS runs them several times
    // faster. float32 throughout (no TF32), so results stay within the fp32 tolerance.
    bool cublas_projections = true;
    StateType state_type = StateType::kFloat32;
    // Tokens per chunk of forward(): the rows of its products are streams x chunk, and the
    // buffers it allocates grow with it.
    unsigned forward_chunk = 64;
};

class CudaModel {
public:
    // Thread: setup. Copies `model`'s weights to the current device and allocates state for
    // max_streams streams (zero: the start of every stream), input and output rows, scratch and
    // pinned host staging. Throws std::runtime_error naming the CUDA call, or a block size the
    // kernels do not cover. `model` must outlive this object; `stream` too, when not nullptr.
    CudaModel(const SsmModel& model, std::size_t max_streams, StreamHandle stream,
              CudaModelOptions options = {});
    ~CudaModel();
    CudaModel(const CudaModel&) = delete;
    CudaModel& operator=(const CudaModel&) = delete;

    [[nodiscard]] const SsmModel& model() const noexcept;
    [[nodiscard]] std::size_t max_streams() const noexcept;
    [[nodiscard]] std::size_t input_dim() const noexcept;
    [[nodiscard]] std::size_t output_dim() const noexcept;
    [[nodiscard]] StreamHandle stream() const noexcept;
    // Device bytes of one stream's recurrent state (every layer, as stored: bfloat16 SSM state
    // counts 2 bytes a value), and of the weights.
    [[nodiscard]] std::uint64_t state_bytes_per_stream() const noexcept;
    [[nodiscard]] std::uint64_t weight_bytes() const noexcept;

    // Device rows: input {max_streams, input_dim}, written by the caller before a step;
    // output {max_streams, output_dim}, valid once the step's work on stream() is done.
    [[nodiscard]] float* device_input() noexcept;
    [[nodiscard]] const float* device_output() const noexcept;

    // Thread: the one that owns stream() (real-time or worker). Enqueues one step of streams
    // [0, streams), 1 <= streams <= max_streams(): device_input rows -> device_output rows,
    // states updated in place. Only kernel launches: never allocates, blocks or throws.
    [[nodiscard]] StepStatus enqueue_step(std::size_t streams) noexcept;

    // Thread: setup. Captures enqueue_step(streams) as a CUDA graph (once per count; a second
    // call for the same count does nothing), so that a step costs one graph launch.
    void prepare_graph(std::size_t streams);
    // Thread: as enqueue_step(). Launches the graph prepare_graph(streams) made; an error
    // status (cudaErrorInvalidValue) when there is none.
    [[nodiscard]] StepStatus launch_graph(std::size_t streams) noexcept;

    // Thread: setup or worker; these block until done. `state` has model().state_floats().
    // With bfloat16 state, upload rounds each SSM value to nearest even and download widens it.
    void upload_state(std::size_t stream_index, const StreamState& state);
    void download_state(std::size_t stream_index, StreamState& state) const;
    // Every stream in [0, streams) starts from `state` (a fork of one stream into many).
    void broadcast_state(const StreamState& state, std::size_t streams);

    // Thread: worker; blocks. One step of B = x.size() / input_dim() streams from host memory:
    // x {B, input_dim} -> y {B, output_dim} through pinned staging, as one graph launch when
    // prepare_graph(B) was called, else as separate launches. Throws on a CUDA error.
    void step_batch(std::span<const float> x, std::span<float> y);
    // Thread: worker; blocks. T tokens of each of streams [0, B), B = `streams`:
    // x {B, T, input_dim} -> y {B, T, output_dim}, every stream's state advanced by T steps;
    // equal to T step_batch() calls up to float rounding. Runs in chunks of
    // options.forward_chunk tokens. In a chunk, every projection of every token of every
    // stream is one product, and a Mamba-2 layer's conv and SSD recurrence each walk the
    // chunk's tokens inside one kernel, parallel across streams and (head, row tile); other
    // block types step through the chunk token by token with the step's kernels. The first
    // call (and a call with a larger B) allocates device and pinned buffers for B x chunk rows.
    // Throws on sizes that do not fit or a CUDA error.
    void forward(std::span<const float> x, std::span<float> y, std::size_t streams);

    // Thread: any. Waits for everything enqueued on stream(); throws on a CUDA error.
    void synchronize() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace statestream::models::cuda
