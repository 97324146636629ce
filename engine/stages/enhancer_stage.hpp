#pragma once
// The speech enhancer as one pipeline stage: audio in, enhanced audio out, at the model's rate,
// one channel. The hop itself is engine/linked_enhancer.hpp's (STFT, ERB log energies, model
// step, gains, iSTFT); this stage runs it over blocks of whole hops, one step() per hop as live
// streams do, or (files, kChunked) one forward() per block. The output lags the input by N - H
// samples (the overlap-add), which latency_seconds() reports and measure_impulse_delay
// (engine/enhancer_chain.hpp) confirms.

#include "engine/file_run_options.hpp"
#include "engine/linked_enhancer.hpp"
#include "engine/stage.hpp"

namespace statestream::engine {

class EnhancerStage final : public Stage {
public:
    // Thread: setup. `model` must outlive the stage; several stages (channels, streams) may
    // share it. Each step takes `hops_per_block` hops of audio at the model's sample rate, and
    // runs the model over them as `calls` says. Throws std::invalid_argument as LinkedEnhancer
    // does, or for 0 hops.
    EnhancerStage(const models::SsmModel& model, const EnhancerSettings& settings,
                  std::size_t hops_per_block = 1, ModelCalls calls = ModelCalls::kStepByStep);

    [[nodiscard]] std::string describe() const override;
    [[nodiscard]] std::string identity() const override;
    [[nodiscard]] StageShape input() const noexcept override { return shape_; }
    [[nodiscard]] StageShape output() const noexcept override { return shape_; }
    [[nodiscard]] double latency_seconds() const noexcept override;
    // Thread: real-time (kStepByStep) or worker (kChunked). in.size() == out.size() ==
    // input().block. Allocates nothing.
    void process(std::span<const float> in, std::span<float> out) noexcept override;

    [[nodiscard]] std::size_t state_floats() const noexcept override { return enhancer_.state_floats(); }
    void save_state(std::span<float> out) const noexcept override { enhancer_.save_state(out); }
    void restore_state(std::span<const float> in) noexcept override { enhancer_.restore_state(in); }
    void reset() noexcept override { enhancer_.reset(); }

    // The band gains applied to the last hop, for tests and meters.
    [[nodiscard]] std::span<const float> last_band_gains() const noexcept {
        return enhancer_.last_band_gains();
    }

private:
    const models::SsmModel* model_;
    EnhancerSettings settings_;
    ModelCalls calls_;
    LinkedEnhancer enhancer_;
    StageShape shape_;
};

}  // namespace statestream::engine
