#pragma once
// What a model file declares about its network: the stack of blocks and their sizes. The loader
// derives from it the exact list of tensors the file must hold (tensor_schema.hpp), so a file
// whose weights disagree with its metadata is refused before any step runs.

#include <cstdint>
#include <string_view>
#include <vector>

namespace statestream::models {

enum class BlockType { kMamba2 };

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

struct LayerSpec {
    BlockType type = BlockType::kMamba2;
    Mamba2Spec mamba2;
};

// input -> input_proj -> [pre-norm block + residual] x layers -> norm_f -> head -> output
struct Architecture {
    std::uint32_t input_dim = 0;   // features per step (mel bands, tick features)
    std::uint32_t d_model = 0;
    std::uint32_t output_dim = 0;  // head outputs per step (gains, characters, quantiles)
    double norm_eps = 1e-5;    // as written in the file; blocks use it as float
    std::vector<LayerSpec> layers;
};

// Floats of recurrent state one stream needs (SSM state plus conv tails), all layers together.
struct StateSize {
    std::uint64_t ssm_floats = 0;
    std::uint64_t conv_floats = 0;
    [[nodiscard]] std::uint64_t bytes() const noexcept { return (ssm_floats + conv_floats) * 4; }
};
[[nodiscard]] StateSize state_size_per_stream(const Architecture& architecture) noexcept;

}  // namespace statestream::models
