#pragma once
// Mamba-1 (models/mamba1_block.hpp) on the device, for a batch of streams, five kernels:
//   1. RMSNorm(h) -> in_proj, the causal conv + SiLU on the x columns in its epilogue;
//   2. x_proj -> dt_low, B, C;   3. dt_proj + bias -> softplus;
//   4. the selective-scan update and readout per (stream, channel), gated by SiLU(z);
//   5. out_proj, added to h.

#include <cstdint>

#include "models/architecture.hpp"
#include "models/cuda/layer_io.hpp"

namespace statestream::models::cuda {

struct Mamba1Device {
    Mamba1Spec spec;
    Mamba1Dims dims{};
    const float* in_proj = nullptr;      // {2 d_inner, d_model}: x rows, then z rows
    const float* conv_weight = nullptr;  // {d_inner, d_conv}
    const float* conv_bias = nullptr;    // {d_inner}
    const float* x_proj = nullptr;       // {dt_rank + 2 d_state, d_inner}
    const float* dt_proj = nullptr;      // {d_inner, dt_rank}
    const float* dt_bias = nullptr;      // {d_inner}
    const float* A = nullptr;            // {d_inner, d_state}: -exp(A_log)
    const float* D = nullptr;            // {d_inner}
    const float* out_proj = nullptr;     // {d_model, d_inner}
    void* ssm = nullptr;                 // {max_streams, d_inner, d_state},
                                         // float, or __nv_bfloat16 when bf16_state
    bool bf16_state = false;
    float* conv = nullptr;               // {max_streams, d_conv - 1, d_inner}
};

// Thread: as CudaModel::enqueue_step. io.proj needs 2 d_inner floats a row, io.mix d_inner,
// io.aux dt_rank + 2 d_state, io.aux2 d_inner.
[[nodiscard]] cudaError_t mamba1_step(const Mamba1Device& layer, const LayerIo& io);

}  // namespace statestream::models::cuda
