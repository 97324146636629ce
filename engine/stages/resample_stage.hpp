#pragma once
// Sample-rate conversion as a pipeline stage: one block of audio at one rate in, the block of
// the same duration at another rate out (the block must map to a whole number of samples).

#include <memory>

#include "dsp/stream_resampler.hpp"
#include "engine/stage.hpp"

namespace statestream::engine {

class ResampleStage final : public Stage {
public:
    // Thread: setup. Throws std::invalid_argument when block_in * out / in is not whole.
    ResampleStage(std::uint32_t input_rate_hz, std::uint32_t output_rate_hz, std::size_t block_in,
                  dsp::ResamplerQuality quality = dsp::ResamplerQuality::kMedium);

    [[nodiscard]] std::string describe() const override;
    [[nodiscard]] StageShape input() const noexcept override { return input_; }
    [[nodiscard]] StageShape output() const noexcept override { return output_; }
    [[nodiscard]] double latency_seconds() const noexcept override;
    void process(std::span<const float> in, std::span<float> out) noexcept override;

    [[nodiscard]] std::size_t state_floats() const noexcept override { return resampler_.state_floats(); }
    void save_state(std::span<float> out) const noexcept override { resampler_.save_state(out); }
    void restore_state(std::span<const float> in) noexcept override { resampler_.restore_state(in); }
    [[nodiscard]] bool accepts_state(std::span<const float> in) const noexcept override {
        return resampler_.accepts_state(in);
    }
    void reset() noexcept override { resampler_.reset(); }

private:
    StageShape input_;
    StageShape output_;
    dsp::StreamResampler resampler_;
};

}  // namespace statestream::engine
