#pragma once
// Mamba-2 (SSD, arXiv 2405.21060) block on the CPU. The reference with the same maths is
// models/train/mamba2_block.py; docs/model_format.md lists its tensors.
//
//   u [d_model] -> in_proj -> z [d_inner], xBC [conv_dim], dt [n_heads]
//   xBC -> causal depthwise conv (d_conv taps) + bias -> SiLU -> x [n_heads, head_dim], B, C [n_groups, d_state]
//   dt = softplus(dt + dt_bias), A = -exp(A_log)
//   ssm[h] = exp(dt[h] * A[h]) * ssm[h] + dt[h] * x[h] (outer) B[g(h)];  y[h] = ssm[h] . C[g(h)] + D[h] * x[h]
//   y = RMSNorm(y * SiLU(z)) per group of d_inner / n_groups channels, times norm.weight
//   out = out_proj(y)

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "models/architecture.hpp"
#include "models/cpu/dense.hpp"
#include "models/cpu/ssd_scan.hpp"
#include "models/stream_batch.hpp"

namespace statestream::models {

class ModelFile;

// Read-only weights of one layer: views into the model file, plus decay rates A computed once
// at load. Shared by every stream.
struct Mamba2Weights {
    Mamba2Spec spec;
    Mamba2Dims dims{};
    std::size_t d_model = 0;
    float norm_eps = 1e-5f;
    std::span<const float> in_proj;      // {in_proj_dim, d_model}
    std::span<const float> conv_weight;  // {conv_dim, d_conv}
    std::span<const float> conv_bias;    // {conv_dim}
    std::span<const float> dt_bias;      // {n_heads}
    std::span<const float> D;            // {n_heads}
    std::span<const float> norm_weight;  // {d_inner}
    std::span<const float> out_proj;     // {d_model, d_inner}
    std::vector<float> A;                // {n_heads}: -exp(A_log), so no step pays for the exp
    cpu::SsdScanKernel scan = &cpu::ssd_scan_scalar;  // picked once in bind()
    cpu::LinearKernel linear = &cpu::linear_scalar;   // picked once in bind()

    // Thread: setup. `prefix` is "layers.<i>.mixer."; the file must outlive the weights.
    static Mamba2Weights bind(const ModelFile& file, const std::string& prefix,
                              const Mamba2Spec& spec, std::size_t d_model, float norm_eps);
};

// One stream's state for this layer (block_state.cpp): ssm {n_heads, head_dim, d_state}, then
// conv {d_conv - 1, conv_dim}, the last inputs to the conv, oldest first.
// Scratch for a chunk of up to max_rows steps; one per thread that runs the block.
class Mamba2Workspace {
public:
    // Thread: setup. Allocates for chunks of at most max_rows steps.
    Mamba2Workspace(const Mamba2Weights& weights, std::size_t max_rows);
    [[nodiscard]] std::size_t max_rows() const noexcept { return max_rows_; }

private:
    friend void mamba2_forward(const Mamba2Weights&, StreamBatch, Mamba2Workspace&, const float*,
                               float*) noexcept;
    std::size_t max_rows_;
    std::vector<float> zxbcdt_;  // {rows, in_proj_dim}
    std::vector<float> window_;  // {d_conv - 1 + rows, conv_dim}, one stream at a time
    std::vector<float> xbc_;     // {rows, conv_dim} after conv and SiLU
    std::vector<float> dt_;      // {rows, n_heads} after softplus
    std::vector<float> y_;       // {rows, d_inner}
};

// Thread: real-time or worker. Advances every stream of `batch` by batch.steps steps
// (1 <= batch.rows() <= ws.max_rows()): u {rows, d_model} -> out {rows, d_model}, updating the
// states in place. Stage by stage over all rows: projections reuse each weight row across the
// rows, and the scan keeps one head's state in cache across a stream's steps. One row is
// step(); any split of a sequence into chunks gives the same result up to float rounding.
// Never allocates.
void mamba2_forward(const Mamba2Weights& weights, StreamBatch batch, Mamba2Workspace& ws,
                    const float* u, float* out) noexcept;

}  // namespace statestream::models
