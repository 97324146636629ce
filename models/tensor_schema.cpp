#include "models/tensor_schema.hpp"

namespace statestream::models {

namespace {

void add_mamba2_tensors(std::vector<ExpectedTensor>& out, const std::string& prefix,
                        const Mamba2Spec& spec, std::uint32_t d_model) {
    const Mamba2Dims dims = mamba2_dims(spec, d_model);
    const std::string sizes = "d_model = " + std::to_string(d_model) +
                              ", d_inner = " + std::to_string(dims.d_inner) +
                              ", n_heads = " + std::to_string(dims.n_heads) +
                              ", conv_dim = " + std::to_string(dims.conv_dim);
    const std::string mixer = prefix + "mixer.";
    out.push_back({prefix + "norm.weight", {d_model}, sizes});
    // Rows of in_proj, in order: z (d_inner), x (d_inner), B and C (n_groups * d_state each),
    // dt (n_heads), as in the reference Mamba2 module.
    out.push_back({mixer + "in_proj.weight", {dims.in_proj_dim, d_model},
                   sizes + ", in_proj rows = 2 * d_inner + 2 * n_groups * d_state + n_heads"});
    out.push_back({mixer + "conv1d.weight", {dims.conv_dim, spec.d_conv}, sizes});
    out.push_back({mixer + "conv1d.bias", {dims.conv_dim}, sizes});
    out.push_back({mixer + "dt_bias", {dims.n_heads}, sizes});
    out.push_back({mixer + "A_log", {dims.n_heads}, sizes});
    out.push_back({mixer + "D", {dims.n_heads}, sizes});
    out.push_back({mixer + "norm.weight", {dims.d_inner}, sizes});
    out.push_back({mixer + "out_proj.weight", {d_model, dims.d_inner}, sizes});
}

void add_mamba3_tensors(std::vector<ExpectedTensor>& out, const std::string& prefix,
                        const Mamba3Spec& spec, std::uint32_t d_model) {
    const Mamba3Dims dims = mamba3_dims(spec, d_model);
    const std::string sizes = "d_model = " + std::to_string(d_model) +
                              ", d_inner = " + std::to_string(dims.d_inner) +
                              ", n_heads = " + std::to_string(dims.n_heads) +
                              ", ranks = " + std::to_string(dims.ranks);
    const std::string mixer = prefix + "mixer.";
    const std::uint64_t h = dims.n_heads;
    out.push_back({prefix + "norm.weight", {d_model}, sizes});
    // Rows of in_proj, in order: z, x (d_inner each), B, C (ranks * n_groups * d_state each),
    // dt, lambda (n_heads each), theta (d_state / 2).
    out.push_back({mixer + "in_proj.weight", {dims.in_proj_dim, d_model},
                   sizes + ", in_proj rows = 2 * d_inner + 2 * ranks * n_groups * d_state + "
                           "2 * n_heads + d_state / 2"});
    out.push_back({mixer + "dt_bias", {h}, sizes});
    out.push_back({mixer + "A_log", {h}, sizes});
    out.push_back({mixer + "D", {h}, sizes});
    out.push_back({mixer + "B_norm.weight", {spec.d_state}, sizes});
    out.push_back({mixer + "C_norm.weight", {spec.d_state}, sizes});
    out.push_back({mixer + "B_bias", {h, dims.ranks, spec.d_state}, sizes});
    out.push_back({mixer + "C_bias", {h, dims.ranks, spec.d_state}, sizes});
    if (spec.mimo_rank > 0) {
        out.push_back({mixer + "mimo_x", {h, dims.ranks, spec.head_dim}, sizes});
        out.push_back({mixer + "mimo_o", {h, dims.ranks, spec.head_dim}, sizes});
    }
    out.push_back({mixer + "norm.weight", {dims.d_inner}, sizes});
    out.push_back({mixer + "out_proj.weight", {d_model, dims.d_inner}, sizes});
}

void add_mamba1_tensors(std::vector<ExpectedTensor>& out, const std::string& prefix,
                        const Mamba1Spec& spec, std::uint32_t d_model) {
    const Mamba1Dims dims = mamba1_dims(spec, d_model);
    const std::string sizes = "d_model = " + std::to_string(d_model) +
                              ", d_inner = " + std::to_string(dims.d_inner) +
                              ", dt_rank = " + std::to_string(dims.dt_rank);
    const std::string mixer = prefix + "mixer.";
    out.push_back({prefix + "norm.weight", {d_model}, sizes});
    out.push_back({mixer + "in_proj.weight", {2 * dims.d_inner, d_model},
                   sizes + ", in_proj rows = 2 * d_inner (x, z)"});
    out.push_back({mixer + "conv1d.weight", {dims.d_inner, spec.d_conv}, sizes});
    out.push_back({mixer + "conv1d.bias", {dims.d_inner}, sizes});
    out.push_back({mixer + "x_proj.weight", {dims.x_proj_dim, dims.d_inner},
                   sizes + ", x_proj rows = dt_rank + 2 * d_state"});
    out.push_back({mixer + "dt_proj.weight", {dims.d_inner, dims.dt_rank}, sizes});
    out.push_back({mixer + "dt_proj.bias", {dims.d_inner}, sizes});
    out.push_back({mixer + "A_log", {dims.d_inner, spec.d_state}, sizes});
    out.push_back({mixer + "D", {dims.d_inner}, sizes});
    out.push_back({mixer + "out_proj.weight", {d_model, dims.d_inner}, sizes});
}

void add_attention_tensors(std::vector<ExpectedTensor>& out, const std::string& prefix,
                           const WindowAttentionSpec& spec, std::uint32_t d_model) {
    const std::uint64_t inner = std::uint64_t{spec.n_heads} * spec.head_dim;
    const std::string sizes = "d_model = " + std::to_string(d_model) +
                              ", n_heads * head_dim = " + std::to_string(inner);
    const std::string mixer = prefix + "mixer.";
    out.push_back({prefix + "norm.weight", {d_model}, sizes});
    out.push_back({mixer + "qkv_proj.weight", {3 * inner, d_model},
                   sizes + ", qkv_proj rows = 3 * n_heads * head_dim (q, k, v)"});
    out.push_back({mixer + "out_proj.weight", {d_model, inner}, sizes});
}

}  // namespace

std::vector<ExpectedTensor> expected_tensors(const Architecture& architecture) {
    std::vector<ExpectedTensor> out;
    const std::uint32_t d_model = architecture.d_model;
    const std::string io = "input_dim = " + std::to_string(architecture.input_dim) +
                           ", d_model = " + std::to_string(d_model) +
                           ", output_dim = " + std::to_string(architecture.output_dim);
    out.push_back({"input_proj.weight", {d_model, architecture.input_dim}, io});
    out.push_back({"input_proj.bias", {d_model}, io});
    for (std::size_t i = 0; i < architecture.layers.size(); ++i) {
        const LayerSpec& layer = architecture.layers[i];
        const std::string prefix = "layers." + std::to_string(i) + ".";
        switch (layer.type) {
            case BlockType::kMamba2: add_mamba2_tensors(out, prefix, layer.mamba2, d_model); break;
            case BlockType::kMamba3: add_mamba3_tensors(out, prefix, layer.mamba3, d_model); break;
            case BlockType::kMamba1: add_mamba1_tensors(out, prefix, layer.mamba1, d_model); break;
            case BlockType::kWindowAttention:
                add_attention_tensors(out, prefix, layer.attention, d_model);
                break;
        }
    }
    out.push_back({"norm_f.weight", {d_model}, io});
    out.push_back({"head.weight", {architecture.output_dim, d_model}, io});
    out.push_back({"head.bias", {architecture.output_dim}, io});
    return out;
}

}  // namespace statestream::models
