#pragma once
// Window attention (models/window_attention_block.hpp) on the device, for a batch of streams,
// three kernels:
//   1. RMSNorm(h) -> qkv_proj;
//   2. per stream: k, v into the ring, softmax attention of q over the live entries per head,
//      the cursor advanced (clamped first, as on the CPU, when a restored one is out of range);
//   3. out_proj, added to h.

#include <cstdint>

#include "models/architecture.hpp"
#include "models/cuda/layer_io.hpp"

namespace statestream::models::cuda {

struct WindowAttentionDevice {
    WindowAttentionSpec spec;
    const float* qkv_proj = nullptr;  // {3 n_heads head_dim, d_model}
    const float* out_proj = nullptr;  // {d_model, n_heads head_dim}
    float* keys = nullptr;            // {max_streams, window, n_heads, head_dim}
    float* values = nullptr;          // {max_streams, window, n_heads, head_dim}
    float* cursor = nullptr;          // {max_streams, 2}: next slot, live entries (as floats)
};

// Thread: as CudaModel::enqueue_step. io.proj needs 3 n_heads head_dim floats a row, io.mix
// n_heads head_dim.
[[nodiscard]] cudaError_t window_attention_step(const WindowAttentionDevice& layer,
                                                const LayerIo& io);

}  // namespace statestream::models::cuda
