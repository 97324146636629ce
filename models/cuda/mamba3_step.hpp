#pragma once
// Mamba-3 (models/mamba3_block.hpp), SISO and MIMO, on the device, for a batch of streams,
// three kernels:
//   1. RMSNorm(h) -> in_proj;
//   2. per (stream, head): dt, lambda and the trapezoid coefficients; the angles advanced
//      (compensated, as models/cpu/mamba3_scan.hpp); B and C normalised, biased, rotated; the
//      state update and readout with the previous step's x and B; gated by SiLU(z);
//   3. the gated group RMSNorm -> out_proj, added to h.

#include <cstddef>
#include <cstdint>

#include "models/architecture.hpp"
#include "models/cuda/layer_io.hpp"

namespace statestream::models::cuda {

struct Mamba3Device {
    Mamba3Spec spec;
    Mamba3Dims dims{};
    const float* in_proj = nullptr;      // {in_proj_dim, d_model}
    const float* dt_bias = nullptr;      // {n_heads}
    const float* A = nullptr;            // {n_heads}: -exp(A_log)
    const float* D = nullptr;            // {n_heads}
    const float* b_norm = nullptr;       // {d_state}
    const float* c_norm = nullptr;       // {d_state}
    const float* b_bias = nullptr;       // {n_heads, ranks, d_state}
    const float* c_bias = nullptr;       // {n_heads, ranks, d_state}
    const float* mimo_x = nullptr;       // {n_heads, ranks, head_dim}; nullptr for SISO
    const float* mimo_o = nullptr;       // {n_heads, ranks, head_dim}; nullptr for SISO
    const float* norm_weight = nullptr;  // {d_inner}
    const float* out_proj = nullptr;     // {d_model, d_inner}
    void* ssm = nullptr;                 // {max_streams, n_heads, head_dim, d_state},
                                         // float, or __nv_bfloat16 when bf16_state
    bool bf16_state = false;
    float* prev_x = nullptr;             // {max_streams, n_heads, head_dim}
    float* prev_b = nullptr;             // {max_streams, n_heads, ranks, d_state}
    float* angle = nullptr;              // {max_streams, n_heads, d_state / 2}
    float* angle_residual = nullptr;     // {max_streams, n_heads, d_state / 2}
};

// Shared memory the per-head kernel needs (B, C and the previous B of every rank, x of this
// and the previous step, the rotations): CudaModel refuses a layer above kDefaultSharedBytes.
[[nodiscard]] std::size_t mamba3_shared_bytes(const Mamba3Spec& spec, const Mamba3Dims& dims);

// Thread: as CudaModel::enqueue_step. io.proj needs in_proj_dim floats a row, io.mix d_inner.
[[nodiscard]] cudaError_t mamba3_step(const Mamba3Device& layer, const LayerIo& io);

}  // namespace statestream::models::cuda
