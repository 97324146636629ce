#include "engine/stages/model_stage.hpp"

#include <algorithm>

#include <fmt/core.h>

namespace statestream::engine {

ModelStage::ModelStage(const models::SsmModel& model, double step_rate_hz)
    : model_(&model), step_rate_hz_(step_rate_hz), state_(model.make_state()), workspace_(model, 1) {}

std::string ModelStage::describe() const {
    const auto& a = model_->architecture();
    return fmt::format("model {} -> {} ({} layers, d_model {})", a.input_dim, a.output_dim,
                       a.layers.size(), a.d_model);
}

std::string ModelStage::identity() const {
    return describe() + ", weights " + model_->file().fingerprint();
}

StageShape ModelStage::input() const noexcept { return {model_->input_dim(), step_rate_hz_, 1}; }
StageShape ModelStage::output() const noexcept { return {model_->output_dim(), step_rate_hz_, 1}; }

void ModelStage::save_state(std::span<float> out) const noexcept {
    std::copy(state_.values.begin(), state_.values.end(), out.begin());
}
void ModelStage::restore_state(std::span<const float> in) noexcept {
    std::copy(in.begin(), in.end(), state_.values.begin());
}
void ModelStage::reset() noexcept { std::fill(state_.values.begin(), state_.values.end(), 0.0f); }

}  // namespace statestream::engine
