#pragma once
// A model ready to run: the layers' weights bound to a loaded ModelFile, and the per-stream
// state and per-thread scratch it needs. The reference is models/train/ssm_model.py.
//
//   x [input_dim] -> input_proj -> h [d_model]
//   for each layer: h = h + block(RMSNorm(h) * norm.weight)
//   y = head(RMSNorm(h) * norm_f.weight) [output_dim]

#include <cstddef>
#include <span>
#include <vector>

#include "models/mamba2_block.hpp"
#include "models/model_file.hpp"

namespace statestream::models {

// One stream's recurrent state for the whole stack: fixed size, allocated once per stream.
struct StreamState {
    std::vector<float> values;  // layer by layer: ssm then conv (SsmModel::layer_state)
};

class SsmModel;

// Scratch for chunks of up to max_rows steps; one per thread that runs the model.
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
    std::vector<Mamba2Workspace> layers_;
};

class SsmModel {
public:
    // Thread: setup. `file` must outlive the model (its weights are views into the mapping).
    explicit SsmModel(const ModelFile& file);

    [[nodiscard]] const Architecture& architecture() const noexcept { return architecture_; }
    [[nodiscard]] std::size_t input_dim() const noexcept { return architecture_.input_dim; }
    [[nodiscard]] std::size_t output_dim() const noexcept { return architecture_.output_dim; }
    [[nodiscard]] std::size_t state_floats() const noexcept { return state_floats_; }

    // Thread: setup. A zero state (the start of a stream).
    [[nodiscard]] StreamState make_state() const;
    // Views of layer `layer`'s part of a stream state.
    [[nodiscard]] Mamba2State layer_state(StreamState& state, std::size_t layer) const noexcept;

    // Thread: real-time. One step: x {input_dim} -> y {output_dim}. O(1); never allocates.
    void step(StreamState& state, ModelWorkspace& ws, std::span<const float> x,
              std::span<float> y) const noexcept;
    // Thread: worker. x {T, input_dim} -> y {T, output_dim} for T = x.size() / input_dim, in
    // chunks of ws.max_rows() steps. Equal to T calls of step() up to float rounding.
    void forward(StreamState& state, ModelWorkspace& ws, std::span<const float> x,
                 std::span<float> y) const noexcept;

private:
    friend class ModelWorkspace;
    void run_chunk(StreamState& state, ModelWorkspace& ws, const float* x, float* y,
                   std::size_t rows) const noexcept;

    Architecture architecture_;
    float norm_eps_;
    cpu::LinearKernel linear_;  // picked once at construction
    std::span<const float> input_proj_weight_;  // {d_model, input_dim}
    std::span<const float> input_proj_bias_;    // {d_model}
    std::vector<std::span<const float>> layer_norms_;  // {d_model} per layer
    std::vector<Mamba2Weights> layers_;
    std::span<const float> norm_f_;             // {d_model}
    std::span<const float> head_weight_;        // {output_dim, d_model}
    std::span<const float> head_bias_;          // {output_dim}
    struct LayerStateOffsets {
        std::size_t ssm, ssm_size, conv, conv_size;
    };
    std::vector<LayerStateOffsets> state_offsets_;
    std::size_t state_floats_ = 0;
};

}  // namespace statestream::models
