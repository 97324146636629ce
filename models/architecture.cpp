#include "models/architecture.hpp"

namespace statestream::models {

std::string_view block_type_name(BlockType type) noexcept {
    switch (type) {
        case BlockType::kMamba2: return "mamba2";
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

StateSize state_size_per_stream(const Architecture& architecture) noexcept {
    StateSize size;
    for (const auto& layer : architecture.layers) {
        switch (layer.type) {
            case BlockType::kMamba2: {
                const Mamba2Dims dims = mamba2_dims(layer.mamba2, architecture.d_model);
                size.ssm_floats += dims.n_heads * layer.mamba2.head_dim * layer.mamba2.d_state;
                size.conv_floats += (layer.mamba2.d_conv - 1ULL) * dims.conv_dim;
                break;
            }
        }
    }
    return size;
}

}  // namespace statestream::models
