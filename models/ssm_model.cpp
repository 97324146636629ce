#include "models/ssm_model.hpp"

#include <algorithm>

#include "models/cpu/dense.hpp"

namespace statestream::models {

SsmModel::SsmModel(const ModelFile& file)
    : architecture_(file.description().architecture),
      norm_eps_(static_cast<float>(architecture_.norm_eps)),
      linear_(cpu::select_linear_kernel()) {
    input_proj_weight_ = file.tensor("input_proj.weight");
    input_proj_bias_ = file.tensor("input_proj.bias");
    for (std::size_t i = 0; i < architecture_.layers.size(); ++i) {
        const LayerSpec& spec = architecture_.layers[i];
        const std::string prefix = "layers." + std::to_string(i) + ".";
        layer_norms_.push_back(file.tensor(prefix + "norm.weight"));
        switch (spec.type) {
            case BlockType::kMamba2: {
                layers_.push_back(Mamba2Weights::bind(file, prefix + "mixer.", spec.mamba2,
                                                      architecture_.d_model, norm_eps_));
                const Mamba2Dims& dims = layers_.back().dims;
                LayerStateOffsets offsets{};
                offsets.ssm = state_floats_;
                offsets.ssm_size = dims.n_heads * spec.mamba2.head_dim * spec.mamba2.d_state;
                offsets.conv = offsets.ssm + offsets.ssm_size;
                offsets.conv_size = (spec.mamba2.d_conv - 1) * dims.conv_dim;
                state_floats_ = offsets.conv + offsets.conv_size;
                state_offsets_.push_back(offsets);
                break;
            }
        }
    }
    norm_f_ = file.tensor("norm_f.weight");
    head_weight_ = file.tensor("head.weight");
    head_bias_ = file.tensor("head.bias");
}

StreamState SsmModel::make_state() const { return StreamState{std::vector<float>(state_floats_, 0.0f)}; }

Mamba2State SsmModel::layer_state(StreamState& state, std::size_t layer) const noexcept {
    const LayerStateOffsets& o = state_offsets_[layer];
    const std::span<float> all(state.values);
    return {all.subspan(o.ssm, o.ssm_size), all.subspan(o.conv, o.conv_size)};
}

ModelWorkspace::ModelWorkspace(const SsmModel& model, std::size_t max_rows)
    : max_rows_(std::max<std::size_t>(max_rows, 1)),
      h_(max_rows_ * model.architecture_.d_model),
      normed_(max_rows_ * model.architecture_.d_model),
      mixed_(max_rows_ * model.architecture_.d_model) {
    layers_.reserve(model.layers_.size());
    for (const Mamba2Weights& w : model.layers_) layers_.emplace_back(w, max_rows_);
}

void SsmModel::run_chunk(StreamState& state, ModelWorkspace& ws, const float* x, float* y,
                         std::size_t rows) const noexcept {
    const std::size_t d_model = architecture_.d_model;
    float* h = ws.h_.data();
    linear_(input_proj_weight_, input_proj_bias_, architecture_.input_dim, d_model, x,
                architecture_.input_dim, h, d_model, rows);
    for (std::size_t i = 0; i < layers_.size(); ++i) {
        cpu::rms_norm_rows(h, ws.normed_.data(), layer_norms_[i], d_model, d_model, norm_eps_,
                           rows, d_model);
        mamba2_forward(layers_[i], layer_state(state, i), ws.layers_[i], ws.normed_.data(),
                       ws.mixed_.data(), rows);
        for (std::size_t k = 0; k < rows * d_model; ++k) h[k] += ws.mixed_[k];
    }
    cpu::rms_norm_rows(h, ws.normed_.data(), norm_f_, d_model, d_model, norm_eps_, rows, d_model);
    linear_(head_weight_, head_bias_, d_model, architecture_.output_dim, ws.normed_.data(),
                d_model, y, architecture_.output_dim, rows);
}

void SsmModel::step(StreamState& state, ModelWorkspace& ws, std::span<const float> x,
                    std::span<float> y) const noexcept {
    run_chunk(state, ws, x.data(), y.data(), 1);
}

void SsmModel::forward(StreamState& state, ModelWorkspace& ws, std::span<const float> x,
                       std::span<float> y) const noexcept {
    const std::size_t total = x.size() / architecture_.input_dim;
    for (std::size_t t0 = 0; t0 < total; t0 += ws.max_rows()) {
        const std::size_t rows = std::min(ws.max_rows(), total - t0);
        run_chunk(state, ws, x.data() + t0 * architecture_.input_dim,
                  y.data() + t0 * architecture_.output_dim, rows);
    }
}

}  // namespace statestream::models
