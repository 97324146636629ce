#pragma once
// Mamba-3 (arXiv 2603.15569) block on the CPU, SISO and MIMO. The reference with the same maths
// is models/train/mamba3_block.py; docs/model_format.md lists its tensors.
//
//   u [d_model] -> in_proj -> z, x [d_inner], B, C [ranks, n_groups, d_state], dt, lam [n_heads],
//                             theta [d_state / 2]
//   dt = softplus(dt + dt_bias), A = -exp(A_log), lam = sigmoid(lam)
//   alpha = exp(dt A), beta = (1 - lam) dt alpha, gamma = lam dt
//   B = RMSNorm(B) * B_norm.weight + B_bias[h] per head, then rotated by the head's angles
//   angle[h, k] = (angle[h, k] + dt[h] theta[k]) mod 2 pi          (C likewise)
//   xr[h, r] = x[h] * mimo_x[h, r]  (SISO: x)
//   ssm[h] = alpha ssm[h] + beta sum_r xr_prev (outer) B_prev + gamma sum_r xr (outer) B
//   y[h] = sum_r mimo_o[h, r] * (ssm[h] . C[h, r] + D[h] xr[h, r])   (SISO: no mimo_o)
//   out = out_proj(RMSNorm(y * SiLU(z)) per group * norm.weight)

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "models/architecture.hpp"
#include "models/cpu/dense.hpp"
#include "models/cpu/mamba3_scan.hpp"
#include "models/stream_batch.hpp"

namespace statestream::models {

class ModelFile;

struct Mamba3Weights {
    Mamba3Spec spec;
    Mamba3Dims dims{};
    std::size_t d_model = 0;
    float norm_eps = 1e-5f;
    std::span<const float> in_proj;      // {in_proj_dim, d_model}
    std::span<const float> dt_bias;      // {n_heads}
    std::span<const float> D;            // {n_heads}
    std::span<const float> b_norm;       // {d_state}
    std::span<const float> c_norm;       // {d_state}
    std::span<const float> b_bias;       // {n_heads, ranks, d_state}
    std::span<const float> c_bias;       // {n_heads, ranks, d_state}
    std::span<const float> mimo_x;       // {n_heads, ranks, head_dim}; empty for SISO
    std::span<const float> mimo_o;       // {n_heads, ranks, head_dim}; empty for SISO
    std::span<const float> norm_weight;  // {d_inner}
    std::span<const float> out_proj;     // {d_model, d_inner}
    std::vector<float> A;                // {n_heads}: -exp(A_log)
    cpu::Mamba3ScanKernel scan = &cpu::mamba3_scan_scalar;
    cpu::LinearKernel linear = &cpu::linear_scalar;

    // Thread: setup. `prefix` is "layers.<i>.mixer."; the file must outlive the weights.
    static Mamba3Weights bind(const ModelFile& file, const std::string& prefix,
                              const Mamba3Spec& spec, std::size_t d_model, float norm_eps);
};

// Scratch for up to max_rows rows; one per thread that runs the block.
class Mamba3Workspace {
public:
    // Thread: setup.
    Mamba3Workspace(const Mamba3Weights& weights, std::size_t max_rows);
    [[nodiscard]] std::size_t max_rows() const noexcept { return max_rows_; }

private:
    friend void mamba3_forward(const Mamba3Weights&, StreamBatch, Mamba3Workspace&, const float*,
                               float*) noexcept;
    std::size_t max_rows_;
    std::vector<float> proj_;     // {rows, in_proj_dim}
    std::vector<float> coef_;     // {rows, n_heads, 3}: alpha, beta, gamma
    std::vector<float> dt_;       // {rows, n_heads} after softplus
    std::vector<float> normed_;   // 2 x {ranks, n_groups, d_state}: this step's B and C, normalised
    std::vector<float> biased_;   // {d_state}
    std::vector<float> b_;        // {rows, n_heads, ranks, d_state}, rotated
    std::vector<float> c_;        // {rows, n_heads, ranks, d_state}, rotated
    std::vector<float> xr_;       // {rows, n_heads, ranks, head_dim}
    std::vector<float> prev_xr_;  // {n_heads, ranks, head_dim}
    std::vector<float> yr_;       // {rows, n_heads, ranks, head_dim}
    std::vector<float> y_;        // {rows, d_inner}
};

// Thread: real-time or worker. As mamba2_forward(): advances every stream of `batch` by
// batch.steps steps, u {rows, d_model} -> out {rows, d_model}. Never allocates.
// Layer state per stream (block_state.cpp): ssm {H, P, N}, prev_x {H, P}, prev_b {H, ranks, N},
// angle {H, N / 2}, angle_residual {H, N / 2} (cpu/mamba3_scan.hpp: the angle is their sum).
void mamba3_forward(const Mamba3Weights& weights, StreamBatch batch, Mamba3Workspace& ws,
                    const float* u, float* out) noexcept;

}  // namespace statestream::models
