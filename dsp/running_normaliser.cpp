#include "dsp/running_normaliser.hpp"
#include "dsp/stateful.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace statestream::dsp {

RunningNormaliser::RunningNormaliser(const RunningNormaliserConfig& config) : config_(config) {
    if (config.features < 1 || !(config.time_constant > 0.0) || !(config.variance_floor > 0.0)) {
        throw std::invalid_argument(
            "running normaliser: needs features >= 1, time_constant > 0 and variance_floor > 0 "
            "(got " + std::to_string(config.features) + ", " +
            std::to_string(config.time_constant) + ", " + std::to_string(config.variance_floor) +
            ")");
    }
    mean_.assign(config.features, 0.0f);
    variance_.assign(config.features, 0.0f);
    elapsed_.assign(config.features, 0.0f);
    seen_.assign(config.features, 0);
}

void RunningNormaliser::process(std::span<const float> x, double dt, std::span<float> y) noexcept {
    for (std::size_t i = 0; i < config_.features; ++i) {
        const double value = x[i];
        const double elapsed = static_cast<double>(elapsed_[i]) + dt;
        if (!std::isfinite(value)) {
            ++gaps_;
            elapsed_[i] = static_cast<float>(elapsed);
            y[i] = 0.0f;
            continue;
        }
        double mean = value;
        double variance = 0.0;
        if (seen_[i] != 0) {
            const double keep = std::exp(-elapsed / config_.time_constant);
            const double delta = value - static_cast<double>(mean_[i]);
            mean = static_cast<double>(mean_[i]) + (1.0 - keep) * delta;
            variance = keep * (static_cast<double>(variance_[i]) + (1.0 - keep) * delta * delta);
        }
        mean_[i] = static_cast<float>(mean);
        variance_[i] = static_cast<float>(variance);
        elapsed_[i] = 0.0f;
        seen_[i] = 1;
        y[i] = static_cast<float>((value - mean) / std::sqrt(variance + config_.variance_floor));
    }
}

void RunningNormaliser::save_state(std::span<float> out) const noexcept {
    for (std::size_t i = 0; i < config_.features; ++i) {
        out[4 * i + 0] = mean_[i];
        out[4 * i + 1] = variance_[i];
        out[4 * i + 2] = elapsed_[i];
        out[4 * i + 3] = seen_[i] != 0 ? 1.0f : 0.0f;
    }
}

void RunningNormaliser::restore_state(std::span<const float> in) noexcept {
    for (std::size_t i = 0; i < config_.features; ++i) {
        mean_[i] = in[4 * i + 0];
        variance_[i] = in[4 * i + 1];
        elapsed_[i] = in[4 * i + 2];
        seen_[i] = in[4 * i + 3] != 0.0f ? 1 : 0;
    }
}

void RunningNormaliser::reset() noexcept {
    std::fill(mean_.begin(), mean_.end(), 0.0f);
    std::fill(variance_.begin(), variance_.end(), 0.0f);
    std::fill(elapsed_.begin(), elapsed_.end(), 0.0f);
    std::fill(seen_.begin(), seen_.end(), 0);
    gaps_ = 0;
}

}  // namespace statestream::dsp

// Every stateful block can be snapshotted with the rest of its stream (dsp/stateful.hpp).
static_assert(statestream::dsp::StatefulBlock<statestream::dsp::RunningNormaliser>);
