#pragma once
// A model ready to run: the layers' weights bound to a loaded ModelFile, and the per-stream
// state and per-thread scratch it needs. The reference is models/train/ssm_model.py.
//
//   x [input_dim] -> input_proj -> h [d_model]
//   for each layer: h = h + block(RMSNorm(h) * norm.weight)      (block types may differ)
//   y = head(RMSNorm(h) * norm_f.weight) [output_dim]

#include <cstddef>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "models/block_state.hpp"
#include "models/mamba1_block.hpp"
#include "models/mamba2_block.hpp"
#include "models/mamba3_block.hpp"
#include "models/model_file.hpp"
#include "models/window_attention_block.hpp"

namespace statestream::models {

// One stream's recurrent state for the whole stack: fixed size, allocated once per stream.
// Copying it forks the stream (what-if runs); state_snapshot.hpp saves and restores it.
struct StreamState {
    std::vector<float> values;  // layer by layer, tensor by tensor (SsmModel::state_layout)
};

class SsmModel;

using LayerWeights =
    std::variant<Mamba2Weights, Mamba3Weights, Mamba1Weights, WindowAttentionWeights>;
using LayerWorkspace = std::variant<Mamba2Workspace, Mamba3Workspace, Mamba1Workspace,
                                    WindowAttentionWorkspace>;

// Scratch for up to max_rows rows per call (steps of one stream, or streams of a batched
// step); one per thread that runs the model.
class ModelWorkspace {
public:
    // Thread: setup.
    ModelWorkspace(const SsmModel& model, std::size_t max_rows);
    [[nodiscard]] std::size_t max_rows() const noexcept { return max_rows_; }

private:
    friend class SsmModel;
    std::size_t max_rows_;
    std::vector<float> h_;       // {rows, d_model} residual stream
    std::vector<float> normed_;  // {rows, d_model}
    std::vector<float> mixed_;   // {rows, d_model}
    std::vector<float*> layer_states_;  // {streams}: one layer's state of each stream
    std::vector<LayerWorkspace> layers_;
};

class SsmModel {
public:
    // Thread: setup. `file` must outlive the model (its weights are views into the mapping).
    explicit SsmModel(const ModelFile& file);

    [[nodiscard]] const ModelFile& file() const noexcept { return *file_; }
    [[nodiscard]] const Architecture& architecture() const noexcept { return architecture_; }
    [[nodiscard]] std::size_t input_dim() const noexcept { return architecture_.input_dim; }
    [[nodiscard]] std::size_t output_dim() const noexcept { return architecture_.output_dim; }
    [[nodiscard]] std::size_t state_floats() const noexcept { return state_floats_; }
    // Every layer's state tensors, offsets into StreamState::values (block_state.hpp).
    [[nodiscard]] const std::vector<std::vector<StateTensor>>& state_layout() const noexcept {
        return state_layout_;
    }

    // Thread: setup. A zero state (the start of a stream).
    [[nodiscard]] StreamState make_state() const;
    // Thread: setup. One named state tensor of one layer ("ssm", "conv", "angle", ...); throws
    // std::out_of_range naming the layer's tensors when it has no such tensor.
    [[nodiscard]] std::span<float> state_tensor(StreamState& state, std::size_t layer,
                                                std::string_view name) const;

    // Thread: real-time. One step: x {input_dim} -> y {output_dim}. O(1); never allocates.
    void step(StreamState& state, ModelWorkspace& ws, std::span<const float> x,
              std::span<float> y) const noexcept;
    // Thread: worker. x {T, input_dim} -> y {T, output_dim} for T = x.size() / input_dim, in
    // chunks of ws.max_rows() steps. Equal to T calls of step() up to float rounding.
    void forward(StreamState& state, ModelWorkspace& ws, std::span<const float> x,
                 std::span<float> y) const noexcept;
    // Thread: real-time or worker. One step of each of B = states.size() streams
    // (1 <= B <= ws.max_rows()): x {B, input_dim} -> y {B, output_dim}. Each weight is read
    // once for all B streams; each stream's result equals its own step(). Never allocates.
    void step_batch(std::span<StreamState* const> states, ModelWorkspace& ws,
                    std::span<const float> x, std::span<float> y) const noexcept;

private:
    friend class ModelWorkspace;
    void run(std::span<StreamState* const> streams, std::size_t steps, ModelWorkspace& ws,
             const float* x, float* y) const noexcept;

    const ModelFile* file_;
    Architecture architecture_;
    float norm_eps_;
    cpu::LinearKernel linear_;  // picked once at construction
    std::span<const float> input_proj_weight_;  // {d_model, input_dim}
    std::span<const float> input_proj_bias_;    // {d_model}
    std::vector<std::span<const float>> layer_norms_;  // {d_model} per layer
    std::vector<LayerWeights> layers_;
    std::span<const float> norm_f_;             // {d_model}
    std::span<const float> head_weight_;        // {output_dim, d_model}
    std::span<const float> head_bias_;          // {output_dim}
    std::vector<std::vector<StateTensor>> state_layout_;
    std::vector<std::size_t> layer_offsets_;    // first float of each layer's state
    std::size_t state_floats_ = 0;
};

}  // namespace statestream::models
