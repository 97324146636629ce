#include "models/block_state.hpp"

namespace statestream::models {

namespace {

void add(std::vector<StateTensor>& out, std::uint64_t& offset, const char* name,
         std::vector<std::uint64_t> shape) {
    std::uint64_t count = 1;
    for (const std::uint64_t d : shape) count *= d;
    out.push_back({name, std::move(shape), offset, count});
    offset += count;
}

}  // namespace

std::vector<StateTensor> layer_state_tensors(const LayerSpec& layer, std::uint32_t d_model,
                                             std::uint64_t first_offset) {
    std::vector<StateTensor> out;
    std::uint64_t offset = first_offset;
    switch (layer.type) {
        case BlockType::kMamba2: {
            const Mamba2Spec& s = layer.mamba2;
            const Mamba2Dims d = mamba2_dims(s, d_model);
            add(out, offset, "ssm", {d.n_heads, s.head_dim, s.d_state});
            add(out, offset, "conv", {s.d_conv - 1ULL, d.conv_dim});
            break;
        }
        case BlockType::kMamba3: {
            const Mamba3Spec& s = layer.mamba3;
            const Mamba3Dims d = mamba3_dims(s, d_model);
            add(out, offset, "ssm", {d.n_heads, s.head_dim, s.d_state});
            add(out, offset, "prev_x", {d.n_heads, s.head_dim});
            add(out, offset, "prev_b", {d.n_heads, d.ranks, s.d_state});
            add(out, offset, "angle", {d.n_heads, d.n_angles});
            add(out, offset, "angle_residual", {d.n_heads, d.n_angles});
            break;
        }
        case BlockType::kMamba1: {
            const Mamba1Spec& s = layer.mamba1;
            const Mamba1Dims d = mamba1_dims(s, d_model);
            add(out, offset, "ssm", {d.d_inner, s.d_state});
            add(out, offset, "conv", {s.d_conv - 1ULL, d.d_inner});
            break;
        }
        case BlockType::kWindowAttention: {
            const WindowAttentionSpec& s = layer.attention;
            add(out, offset, "keys", {s.window, s.n_heads, s.head_dim});
            add(out, offset, "values", {s.window, s.n_heads, s.head_dim});
            add(out, offset, "cursor", {2});
            break;
        }
    }
    return out;
}

StateSize state_size_per_stream(const Architecture& architecture) {
    StateSize size;
    for (const LayerSpec& layer : architecture.layers) {
        for (const StateTensor& t : layer_state_tensors(layer, architecture.d_model)) {
            if (t.name == "ssm") size.ssm_floats += t.count;
            else if (layer.type == BlockType::kWindowAttention) size.cache_floats += t.count;
            else size.history_floats += t.count;
        }
    }
    return size;
}

}  // namespace statestream::models
