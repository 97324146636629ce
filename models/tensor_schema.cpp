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
        }
    }
    out.push_back({"norm_f.weight", {d_model}, io});
    out.push_back({"head.weight", {architecture.output_dim, d_model}, io});
    out.push_back({"head.bias", {architecture.output_dim}, io});
    return out;
}

}  // namespace statestream::models
