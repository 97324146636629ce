#pragma once
// An SSM model as a stage: one feature vector in, one output vector out, one O(1) step per
// vector, with the stream's model state inside the stage.

#include <memory>

#include "engine/stage.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"

namespace statestream::engine {

class ModelStage final : public Stage {
public:
    // Thread: setup. `model` must outlive the stage (many stages may share one model: the
    // weights are read-only; each stage owns its stream's state and its workspace).
    // step_rate_hz: the rate of input vectors (the front-end's hop rate).
    ModelStage(const models::SsmModel& model, double step_rate_hz);

    [[nodiscard]] std::string describe() const override;
    [[nodiscard]] std::string identity() const override;
    [[nodiscard]] StageShape input() const noexcept override;
    [[nodiscard]] StageShape output() const noexcept override;
    [[nodiscard]] double latency_seconds() const noexcept override { return 0.0; }
    void process(std::span<const float> in, std::span<float> out) noexcept override {
        model_->step(state_, workspace_, in, out);
    }

    [[nodiscard]] std::size_t state_floats() const noexcept override { return state_.values.size(); }
    void save_state(std::span<float> out) const noexcept override;
    void restore_state(std::span<const float> in) noexcept override;
    void reset() noexcept override;

private:
    const models::SsmModel* model_;
    double step_rate_hz_;
    models::StreamState state_;
    models::ModelWorkspace workspace_;
};

}  // namespace statestream::engine
