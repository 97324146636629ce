#pragma once
// The speech front-end as a stage: one hop of audio in, one log-mel vector out.

#include "dsp/log_mel_frontend.hpp"
#include "engine/stage.hpp"

namespace statestream::engine {

class LogMelStage final : public Stage {
public:
    // Thread: setup.
    explicit LogMelStage(const dsp::LogMelConfig& config);

    [[nodiscard]] std::string describe() const override;
    [[nodiscard]] StageShape input() const noexcept override;
    [[nodiscard]] StageShape output() const noexcept override;
    // The frame is complete when its last hop arrives: no delay beyond the hop itself.
    [[nodiscard]] double latency_seconds() const noexcept override { return 0.0; }
    void process(std::span<const float> in, std::span<float> out) noexcept override {
        frontend_.process(in, out);
    }

    [[nodiscard]] std::size_t state_floats() const noexcept override { return frontend_.state_floats(); }
    void save_state(std::span<float> out) const noexcept override { frontend_.save_state(out); }
    void restore_state(std::span<const float> in) noexcept override { frontend_.restore_state(in); }
    void reset() noexcept override { frontend_.reset(); }

private:
    dsp::LogMelConfig config_;
    dsp::LogMelFrontend frontend_;
};

}  // namespace statestream::engine
