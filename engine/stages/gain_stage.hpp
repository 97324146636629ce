#pragma once
// A fixed gain on audio (0 dB is an exact copy): the simplest real stage, for level trims in a
// pipeline description and for round-trip tests where what comes out must equal what went in.

#include <cmath>
#include <cstdint>

#include <fmt/core.h>

#include "engine/stage.hpp"

namespace statestream::engine {

class GainStage final : public StatelessStage {
public:
    // Thread: setup.
    GainStage(double rate_hz, std::size_t block, double gain_db)
        : shape_{1, rate_hz, block},
          gain_db_(gain_db),
          gain_(static_cast<float>(std::pow(10.0, gain_db / 20.0))) {}

    [[nodiscard]] std::string describe() const override {
        return fmt::format("gain {:+.2f} dB", gain_db_);
    }
    [[nodiscard]] StageShape input() const noexcept override { return shape_; }
    [[nodiscard]] StageShape output() const noexcept override { return shape_; }
    [[nodiscard]] double latency_seconds() const noexcept override { return 0.0; }
    void process(std::span<const float> in, std::span<float> out) noexcept override {
        for (std::size_t i = 0; i < in.size(); ++i) out[i] = in[i] * gain_;
    }

private:
    StageShape shape_;
    double gain_db_;
    float gain_;
};

}  // namespace statestream::engine
