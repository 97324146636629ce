#pragma once
// What a model file declares about its network: the stack of blocks and their sizes. The loader
// derives from it the exact list of tensors the file must hold (tensor_schema.hpp) and the state
// each stream keeps (block_state.hpp), so a file whose weights disagree with its metadata is
// refused before any step runs.

#include <cstdint>
#include <string_view>
#include <vector>

namespace statestream::models {

enum class BlockType { kMamba2, kMamba3, kMamba1, kWindowAttention };

// The name a model file uses for the block type: "mamba2", "mamba3", "mamba1", "attention".
[[nodiscard]] std::string_view block_type_name(BlockType type) noexcept;

// Mamba-2 (SSD, arXiv 2405.21060): scalar decay per head, state {n_heads, head_dim, d_state},
// causal depthwise conv over x, B and C, gated RMSNorm before the output projection.
struct Mamba2Spec {
    std::uint32_t d_state = 16;
    std::uint32_t head_dim = 16;
    std::uint32_t expand = 2;     // d_inner = expand * d_model
    std::uint32_t d_conv = 4;     // causal conv taps
    std::uint32_t n_groups = 1;   // heads sharing one B and C
};

// Sizes that follow from a Mamba2Spec and d_model; the block and the schema use the same ones.
struct Mamba2Dims {
    std::uint64_t d_inner;      // expand * d_model
    std::uint64_t n_heads;      // d_inner / head_dim
    std::uint64_t conv_dim;     // d_inner + 2 * n_groups * d_state: x, B and C go through the conv
    std::uint64_t in_proj_dim;  // 2 * d_inner + 2 * n_groups * d_state + n_heads: z, xBC, dt
};
[[nodiscard]] Mamba2Dims mamba2_dims(const Mamba2Spec& spec, std::uint32_t d_model) noexcept;

// Mamba-3 (arXiv 2603.15569): exponential-trapezoidal update, B and C rotated by accumulated
// data-dependent angles (the complex state in real form), RMSNorm and biases on B and C, no
// short conv. mimo_rank 0 is SISO; r >= 1 is MIMO with rank-r B and C per head.
struct Mamba3Spec {
    std::uint32_t d_state = 16;   // even: state channels rotate in pairs
    std::uint32_t head_dim = 16;
    std::uint32_t expand = 2;
    std::uint32_t n_groups = 1;
    std::uint32_t mimo_rank = 0;
};

struct Mamba3Dims {
    std::uint64_t d_inner;
    std::uint64_t n_heads;
    std::uint64_t ranks;        // max(mimo_rank, 1): rank-one terms per head and step
    std::uint64_t n_angles;     // d_state / 2 rotation angles per head
    std::uint64_t bc_dim;       // ranks * n_groups * d_state: rows of B (and of C) in in_proj
    std::uint64_t in_proj_dim;  // z, x, B, C, dt, lambda, theta
};
[[nodiscard]] Mamba3Dims mamba3_dims(const Mamba3Spec& spec, std::uint32_t d_model) noexcept;

// Mamba-1 (S6, arXiv 2312.00752): a decay per state element, selective dt/B/C from x_proj.
struct Mamba1Spec {
    std::uint32_t d_state = 16;
    std::uint32_t expand = 2;
    std::uint32_t d_conv = 4;
    std::uint32_t dt_rank = 0;   // 0 in the file means ceil(d_model / 16), as in the paper
};

struct Mamba1Dims {
    std::uint64_t d_inner;
    std::uint64_t dt_rank;      // resolved
    std::uint64_t x_proj_dim;   // dt_rank + 2 * d_state
};
[[nodiscard]] Mamba1Dims mamba1_dims(const Mamba1Spec& spec, std::uint32_t d_model) noexcept;

// Causal sliding-window attention over a fixed key/value ring: the hybrid's attention layer,
// still O(window) per step whatever the stream's length.
struct WindowAttentionSpec {
    std::uint32_t n_heads = 2;
    std::uint32_t head_dim = 16;
    std::uint32_t window = 32;
};

struct LayerSpec {
    BlockType type = BlockType::kMamba2;
    Mamba2Spec mamba2;            // the member that `type` names is the one in use
    Mamba3Spec mamba3;
    Mamba1Spec mamba1;
    WindowAttentionSpec attention;
};

// input -> input_proj -> [pre-norm block + residual] x layers -> norm_f -> head -> output
struct Architecture {
    std::uint32_t input_dim = 0;   // features per step (mel bands, tick features)
    std::uint32_t d_model = 0;
    std::uint32_t output_dim = 0;  // head outputs per step (gains, characters, quantiles)
    double norm_eps = 1e-5;    // as written in the file; blocks use it as float
    std::vector<LayerSpec> layers;
};

}  // namespace statestream::models
