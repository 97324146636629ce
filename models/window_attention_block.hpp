#pragma once
// Causal sliding-window attention on the CPU: the attention layer of a hybrid stack, O(window)
// per step. The reference with the same maths is models/train/attention_block.py.
//
//   u [d_model] -> qkv_proj -> q, k, v [n_heads, head_dim]
//   k, v -> the ring at slot cursor[0]; cursor[0] = (cursor[0] + 1) mod window;
//   cursor[1] = min(cursor[1] + 1, window) entries are live
//   o[h] = softmax_j(q[h] . k[j, h] / sqrt(head_dim)) . v[j, h] over live entries j
//   out = out_proj(o)
// No positional encoding: the SSM layers around it carry the order.

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "models/architecture.hpp"
#include "models/cpu/dense.hpp"
#include "models/stream_batch.hpp"

namespace statestream::models {

class ModelFile;

struct WindowAttentionWeights {
    WindowAttentionSpec spec;
    std::size_t d_model = 0;
    std::span<const float> qkv_proj;  // {3 n_heads head_dim, d_model}
    std::span<const float> out_proj;  // {d_model, n_heads head_dim}
    cpu::LinearKernel linear = &cpu::linear_scalar;

    // Thread: setup. `prefix` is "layers.<i>.mixer."; the file must outlive the weights.
    static WindowAttentionWeights bind(const ModelFile& file, const std::string& prefix,
                                       const WindowAttentionSpec& spec, std::size_t d_model);
};

class WindowAttentionWorkspace {
public:
    // Thread: setup.
    WindowAttentionWorkspace(const WindowAttentionWeights& weights, std::size_t max_rows);
    [[nodiscard]] std::size_t max_rows() const noexcept { return max_rows_; }

private:
    friend void window_attention_forward(const WindowAttentionWeights&, StreamBatch,
                                         WindowAttentionWorkspace&, const float*, float*) noexcept;
    std::size_t max_rows_;
    std::vector<float> qkv_;     // {rows, 3 n_heads head_dim}
    std::vector<float> scores_;  // {window}
    std::vector<float> o_;       // {rows, n_heads head_dim}
};

// Thread: real-time or worker. As mamba2_forward(). Layer state per stream (block_state.cpp):
// keys, values {window, n_heads, head_dim}, cursor {2} (next slot, live entries) as floats.
// A cursor outside its range (a corrupt restored state) is clamped, never used to index.
void window_attention_forward(const WindowAttentionWeights& weights, StreamBatch batch,
                              WindowAttentionWorkspace& ws, const float* u, float* out) noexcept;

}  // namespace statestream::models
