#pragma once
// Mamba-2 (models/mamba2_block.hpp) on the device, for a batch of streams, three kernels:
//   1. RMSNorm(h) -> in_proj, with an epilogue that runs the causal conv + SiLU on the xBC
//      columns (updating the conv state) and softplus(dt + dt_bias) on the dt columns;
//   2. the SSD state update and readout per (stream, head), gated by SiLU(z);
//   3. the gated group RMSNorm -> out_proj, added to h.

#include <cstdint>

#include "models/architecture.hpp"
#include "models/cuda/layer_io.hpp"

namespace statestream::models::cuda {

struct Mamba2Device {
    Mamba2Spec spec;
    Mamba2Dims dims{};
    const float* in_proj = nullptr;      // {in_proj_dim, d_model}
    const float* conv_weight = nullptr;  // {conv_dim, d_conv}
    const float* conv_bias = nullptr;    // {conv_dim}
    const float* dt_bias = nullptr;      // {n_heads}
    const float* A = nullptr;            // {n_heads}: -exp(A_log), computed on the host at load
    const float* D = nullptr;            // {n_heads}
    const float* norm_weight = nullptr;  // {d_inner}
    const float* out_proj = nullptr;     // {d_model, d_inner}
    void* ssm = nullptr;                 // {max_streams, n_heads, head_dim, d_state},
                                         // float, or __nv_bfloat16 when bf16_state
    bool bf16_state = false;
    float* conv = nullptr;               // {max_streams, d_conv - 1, conv_dim}
};

// Thread: as CudaModel::enqueue_step. io.proj needs in_proj_dim floats a row, io.mix d_inner.
[[nodiscard]] cudaError_t mamba2_step(const Mamba2Device& layer, const LayerIo& io);

// Thread: worker (CudaModel::forward). `tokens` steps of io.rows / tokens streams at once: row
// b * tokens + t of io.h is token t of stream b. The projections run over all rows together
// (one product for the whole chunk); the conv and the SSD recurrence walk the tokens in order,
// in parallel across streams and channels or (stream, head, row tile). Equal to `tokens` calls
// of mamba2_step up to float rounding.
[[nodiscard]] cudaError_t mamba2_forward(const Mamba2Device& layer, const LayerIo& io, unsigned tokens);

}  // namespace statestream::models::cuda
