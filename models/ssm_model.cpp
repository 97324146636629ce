#include "models/ssm_model.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "models/cpu/dense.hpp"

namespace statestream::models {

namespace {

LayerWeights bind_layer(const ModelFile& file, const LayerSpec& spec, const std::string& prefix,
                        std::size_t d_model, float norm_eps) {
    switch (spec.type) {
        case BlockType::kMamba2:
            return Mamba2Weights::bind(file, prefix, spec.mamba2, d_model, norm_eps);
        case BlockType::kMamba3:
            return Mamba3Weights::bind(file, prefix, spec.mamba3, d_model, norm_eps);
        case BlockType::kMamba1: return Mamba1Weights::bind(file, prefix, spec.mamba1, d_model);
        case BlockType::kWindowAttention:
            return WindowAttentionWeights::bind(file, prefix, spec.attention, d_model);
    }
    throw std::logic_error("unknown block type");
}

template <class... Ts>
struct Overloaded : Ts... {
    using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace

SsmModel::SsmModel(const ModelFile& file)
    : file_(&file),
      architecture_(file.description().architecture),
      norm_eps_(static_cast<float>(architecture_.norm_eps)),
      linear_(cpu::select_linear_kernel()) {
    input_proj_weight_ = file.tensor("input_proj.weight");
    input_proj_bias_ = file.tensor("input_proj.bias");
    for (std::size_t i = 0; i < architecture_.layers.size(); ++i) {
        const LayerSpec& spec = architecture_.layers[i];
        const std::string prefix = "layers." + std::to_string(i) + ".";
        layer_norms_.push_back(file.tensor(prefix + "norm.weight"));
        layers_.push_back(bind_layer(file, spec, prefix + "mixer.", architecture_.d_model, norm_eps_));
        layer_offsets_.push_back(state_floats_);
        state_layout_.push_back(layer_state_tensors(spec, architecture_.d_model, state_floats_));
        for (const StateTensor& t : state_layout_.back()) state_floats_ += t.count;
    }
    norm_f_ = file.tensor("norm_f.weight");
    head_weight_ = file.tensor("head.weight");
    head_bias_ = file.tensor("head.bias");
}

StreamState SsmModel::make_state() const { return StreamState{std::vector<float>(state_floats_, 0.0f)}; }

std::span<float> SsmModel::state_tensor(StreamState& state, std::size_t layer,
                                        std::string_view name) const {
    std::string known;
    for (const StateTensor& t : state_layout_.at(layer)) {
        if (t.name == name) return std::span<float>(state.values).subspan(t.offset, t.count);
        known += (known.empty() ? "" : ", ") + t.name;
    }
    throw std::out_of_range("layer " + std::to_string(layer) + " (" +
                            std::string(block_type_name(architecture_.layers[layer].type)) +
                            ") has no state tensor '" + std::string(name) + "'; it has: " + known);
}

ModelWorkspace::ModelWorkspace(const SsmModel& model, std::size_t max_rows)
    : max_rows_(std::max<std::size_t>(max_rows, 1)),
      h_(max_rows_ * model.architecture_.d_model),
      normed_(max_rows_ * model.architecture_.d_model),
      mixed_(max_rows_ * model.architecture_.d_model),
      layer_states_(max_rows_) {
    layers_.reserve(model.layers_.size());
    for (const LayerWeights& weights : model.layers_) {
        std::visit(Overloaded{
                       [&](const Mamba2Weights& w) { layers_.emplace_back(std::in_place_type<Mamba2Workspace>, w, max_rows_); },
                       [&](const Mamba3Weights& w) { layers_.emplace_back(std::in_place_type<Mamba3Workspace>, w, max_rows_); },
                       [&](const Mamba1Weights& w) { layers_.emplace_back(std::in_place_type<Mamba1Workspace>, w, max_rows_); },
                       [&](const WindowAttentionWeights& w) {
                           layers_.emplace_back(std::in_place_type<WindowAttentionWorkspace>, w, max_rows_);
                       }},
                   weights);
    }
}

void SsmModel::run(std::span<StreamState* const> streams, std::size_t steps, ModelWorkspace& ws,
                   const float* x, float* y) const noexcept {
    const std::size_t d_model = architecture_.d_model;
    const std::size_t rows = streams.size() * steps;
    float* h = ws.h_.data();
    linear_(input_proj_weight_, input_proj_bias_, architecture_.input_dim, d_model, x,
            architecture_.input_dim, h, d_model, rows);
    for (std::size_t i = 0; i < layers_.size(); ++i) {
        cpu::rms_norm_rows(h, ws.normed_.data(), layer_norms_[i], d_model, d_model, norm_eps_,
                           rows, d_model);
        for (std::size_t s = 0; s < streams.size(); ++s) {
            ws.layer_states_[s] = streams[s]->values.data() + layer_offsets_[i];
        }
        const StreamBatch batch{std::span<float* const>(ws.layer_states_.data(), streams.size()),
                                steps};
        const float* in = ws.normed_.data();
        float* out = ws.mixed_.data();
        LayerWorkspace& lws = ws.layers_[i];
        switch (layers_[i].index()) {
            case 0: mamba2_forward(*std::get_if<0>(&layers_[i]), batch, *std::get_if<0>(&lws), in, out); break;
            case 1: mamba3_forward(*std::get_if<1>(&layers_[i]), batch, *std::get_if<1>(&lws), in, out); break;
            case 2: mamba1_forward(*std::get_if<2>(&layers_[i]), batch, *std::get_if<2>(&lws), in, out); break;
            default:
                window_attention_forward(*std::get_if<3>(&layers_[i]), batch, *std::get_if<3>(&lws), in, out);
                break;
        }
        for (std::size_t k = 0; k < rows * d_model; ++k) h[k] += ws.mixed_[k];
    }
    cpu::rms_norm_rows(h, ws.normed_.data(), norm_f_, d_model, d_model, norm_eps_, rows, d_model);
    linear_(head_weight_, head_bias_, d_model, architecture_.output_dim, ws.normed_.data(),
            d_model, y, architecture_.output_dim, rows);
}

void SsmModel::step(StreamState& state, ModelWorkspace& ws, std::span<const float> x,
                    std::span<float> y) const noexcept {
    StreamState* const one[] = {&state};
    run(one, 1, ws, x.data(), y.data());
}

void SsmModel::forward(StreamState& state, ModelWorkspace& ws, std::span<const float> x,
                       std::span<float> y) const noexcept {
    StreamState* const one[] = {&state};
    const std::size_t total = x.size() / architecture_.input_dim;
    for (std::size_t t0 = 0; t0 < total; t0 += ws.max_rows()) {
        const std::size_t steps = std::min(ws.max_rows(), total - t0);
        run(one, steps, ws, x.data() + t0 * architecture_.input_dim,
            y.data() + t0 * architecture_.output_dim);
    }
}

void SsmModel::step_batch(std::span<StreamState* const> states, ModelWorkspace& ws,
                          std::span<const float> x, std::span<float> y) const noexcept {
    run(states, 1, ws, x.data(), y.data());
}

}  // namespace statestream::models
