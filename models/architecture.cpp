#include "models/architecture.hpp"

namespace statestream::models {

std::string_view block_type_name(BlockType type) noexcept {
    switch (type) {
        case BlockType::kMamba2: return "mamba2";
        case BlockType::kMamba3: return "mamba3";
        case BlockType::kMamba1: return "mamba1";
        case BlockType::kWindowAttention: return "attention";
    }
    return "?";
}

Mamba2Dims mamba2_dims(const Mamba2Spec& spec, std::uint32_t d_model) noexcept {
    Mamba2Dims dims{};
    dims.d_inner = std::uint64_t{spec.expand} * d_model;
    dims.n_heads = spec.head_dim == 0 ? 0 : dims.d_inner / spec.head_dim;
    const std::uint64_t bc = 2ULL * spec.n_groups * spec.d_state;
    dims.conv_dim = dims.d_inner + bc;
    dims.in_proj_dim = 2 * dims.d_inner + bc + dims.n_heads;
    return dims;
}

Mamba3Dims mamba3_dims(const Mamba3Spec& spec, std::uint32_t d_model) noexcept {
    Mamba3Dims dims{};
    dims.d_inner = std::uint64_t{spec.expand} * d_model;
    dims.n_heads = spec.head_dim == 0 ? 0 : dims.d_inner / spec.head_dim;
    dims.ranks = spec.mimo_rank == 0 ? 1 : spec.mimo_rank;
    dims.n_angles = spec.d_state / 2;
    dims.bc_dim = dims.ranks * spec.n_groups * spec.d_state;
    dims.in_proj_dim = 2 * dims.d_inner + 2 * dims.bc_dim + 2 * dims.n_heads + dims.n_angles;
    return dims;
}

Mamba1Dims mamba1_dims(const Mamba1Spec& spec, std::uint32_t d_model) noexcept {
    Mamba1Dims dims{};
    dims.d_inner = std::uint64_t{spec.expand} * d_model;
    dims.dt_rank = spec.dt_rank != 0 ? spec.dt_rank : (std::uint64_t{d_model} + 15) / 16;
    dims.x_proj_dim = dims.dt_rank + 2ULL * spec.d_state;
    return dims;
}

}  // namespace statestream::models
