#pragma once
// Mamba-1 (S6, arXiv 2312.00752) block on the CPU. The reference with the same maths is
// models/train/mamba1_block.py; docs/model_format.md lists its tensors.
//
//   u [d_model] -> in_proj -> x, z [d_inner]
//   x -> causal depthwise conv (d_conv taps) + bias -> SiLU
//   x_proj(x) -> dt_low [dt_rank], B, C [d_state]; dt = softplus(dt_proj(dt_low) + dt_proj.bias)
//   ssm[i, n] = exp(dt[i] A[i, n]) ssm[i, n] + dt[i] x[i] B[n];  y[i] = ssm[i] . C + D[i] x[i]
//   out = out_proj(y * SiLU(z))

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "models/architecture.hpp"
#include "models/cpu/dense.hpp"
#include "models/cpu/selective_scan.hpp"
#include "models/stream_batch.hpp"

namespace statestream::models {

class ModelFile;

struct Mamba1Weights {
    Mamba1Spec spec;
    Mamba1Dims dims{};
    std::size_t d_model = 0;
    std::span<const float> in_proj;      // {2 d_inner, d_model}
    std::span<const float> conv_weight;  // {d_inner, d_conv}
    std::span<const float> conv_bias;    // {d_inner}
    std::span<const float> x_proj;       // {dt_rank + 2 d_state, d_inner}
    std::span<const float> dt_proj;      // {d_inner, dt_rank}
    std::span<const float> dt_bias;      // {d_inner}
    std::span<const float> D;            // {d_inner}
    std::span<const float> out_proj;     // {d_model, d_inner}
    std::vector<float> A;                // {d_inner, d_state}: -exp(A_log)
    cpu::SelectiveScanKernel scan = &cpu::selective_scan_scalar;
    cpu::LinearKernel linear = &cpu::linear_scalar;

    // Thread: setup. `prefix` is "layers.<i>.mixer."; the file must outlive the weights.
    static Mamba1Weights bind(const ModelFile& file, const std::string& prefix,
                              const Mamba1Spec& spec, std::size_t d_model);
};

class Mamba1Workspace {
public:
    // Thread: setup.
    Mamba1Workspace(const Mamba1Weights& weights, std::size_t max_rows);
    [[nodiscard]] std::size_t max_rows() const noexcept { return max_rows_; }

private:
    friend void mamba1_forward(const Mamba1Weights&, StreamBatch, Mamba1Workspace&, const float*,
                               float*) noexcept;
    std::size_t max_rows_;
    std::vector<float> xz_;      // {rows, 2 d_inner}: x | z
    std::vector<float> window_;  // {d_conv - 1 + rows, d_inner}, one stream at a time
    std::vector<float> xc_;      // {rows, d_inner} after conv and SiLU
    std::vector<float> xdbl_;    // {rows, dt_rank + 2 d_state}
    std::vector<float> dt_;      // {rows, d_inner}
    std::vector<float> y_;       // {rows, d_inner}
};

// Thread: real-time or worker. As mamba2_forward(). Layer state per stream (block_state.cpp):
// ssm {d_inner, d_state}, then conv {d_conv - 1, d_inner}. Never allocates.
void mamba1_forward(const Mamba1Weights& weights, StreamBatch batch, Mamba1Workspace& ws,
                    const float* u, float* out) noexcept;

}  // namespace statestream::models
