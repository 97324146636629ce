#include "dsp/stft.hpp"
#include "dsp/stateful.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace statestream::dsp {

void validate(const StftConfig& config) {
    const auto n = config.window_samples;
    const auto h = config.hop_samples;
    const auto f = config.resolved_fft_size();
    if (n < 2) {
        throw std::invalid_argument("STFT: window_samples is " + std::to_string(n) +
                                    ", needs at least 2");
    }
    if (h < 1 || h > n) {
        throw std::invalid_argument("STFT: hop_samples is " + std::to_string(h) +
                                    ", needs 1..window_samples (" + std::to_string(n) + ")");
    }
    if (f < n) {
        throw std::invalid_argument("STFT: fft_size " + std::to_string(f) +
                                    " is smaller than window_samples " + std::to_string(n));
    }
}

namespace {
const StftConfig& validated(const StftConfig& config) {
    validate(config);
    return config;
}
}  // namespace

StftAnalysis::StftAnalysis(const StftConfig& config)
    : config_(validated(config)),
      window_(make_window(config.window, config.window_samples)),
      history_(config.window_samples - config.hop_samples, 0.0f),
      fft_(config.resolved_fft_size(), config.planning) {}

void StftAnalysis::process(std::span<const float> hop_in,
                           std::span<std::complex<float>> spectrum) noexcept {
    const std::size_t kept = history_.size();
    const std::size_t hop = config_.hop_samples;
    auto time = fft_.time();
    // Frame = history then the new hop, windowed; samples N..F-1 stay zero (padding).
    for (std::size_t i = 0; i < kept; ++i) time[i] = history_[i] * window_[i];
    for (std::size_t i = 0; i < hop; ++i) time[kept + i] = hop_in[i] * window_[kept + i];
    fft_.forward();
    std::copy(fft_.spectrum().begin(), fft_.spectrum().end(), spectrum.begin());

    // Next frame's head: the last N - H samples of this frame.
    if (hop >= kept) {
        std::copy(hop_in.end() - static_cast<std::ptrdiff_t>(kept), hop_in.end(), history_.begin());
    } else {
        std::copy(history_.begin() + static_cast<std::ptrdiff_t>(hop), history_.end(),
                  history_.begin());
        std::copy(hop_in.begin(), hop_in.end(),
                  history_.end() - static_cast<std::ptrdiff_t>(hop));
    }
}

void StftAnalysis::save_state(std::span<float> out) const noexcept {
    std::copy(history_.begin(), history_.end(), out.begin());
}
void StftAnalysis::restore_state(std::span<const float> in) noexcept {
    std::copy(in.begin(), in.end(), history_.begin());
}
void StftAnalysis::reset() noexcept { std::fill(history_.begin(), history_.end(), 0.0f); }

StftSynthesis::StftSynthesis(const StftConfig& config)
    : config_(validated(config)),
      synthesis_window_(config.window_samples),
      tail_(config.window_samples - config.hop_samples, 0.0f),
      fft_(config.resolved_fft_size(), config.planning) {
    const auto window = make_window(config.window, config.window_samples);
    const std::size_t n = config.window_samples;
    const std::size_t hop = config.hop_samples;
    // d[j] = sum over frames overlapping position j of w^2: what analysis x synthesis windows
    // add up to in steady state; dividing by it makes any hop <= N reconstruct exactly.
    std::vector<double> window_sum(hop, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        window_sum[i % hop] += static_cast<double>(window[i]) * static_cast<double>(window[i]);
    }
    for (std::size_t j = 0; j < hop; ++j) {
        if (!(window_sum[j] > 1e-9)) {
            throw std::invalid_argument(
                "STFT: the " + std::string(window_shape_name(config.window)) + " window of " +
                std::to_string(n) + " samples does not overlap-add at hop " +
                std::to_string(hop) + " (no frame covers offset " + std::to_string(j) +
                "); use a hop of at most window_samples / 2");
        }
    }
    const auto fft_size = static_cast<double>(config.resolved_fft_size());
    for (std::size_t i = 0; i < n; ++i) {
        synthesis_window_[i] =
            static_cast<float>(static_cast<double>(window[i]) / window_sum[i % hop] / fft_size);
    }
}

void StftSynthesis::process(std::span<const std::complex<float>> spectrum,
                            std::span<float> hop_out) noexcept {
    std::copy(spectrum.begin(), spectrum.end(), fft_.spectrum().begin());
    fft_.inverse();
    const auto frame = fft_.time();
    const std::size_t kept = tail_.size();
    const std::size_t hop = config_.hop_samples;
    // Positions 0..H-1 complete now: the tail's head plus this frame's head.
    for (std::size_t i = 0; i < hop; ++i) {
        const float carried = i < kept ? tail_[i] : 0.0f;
        hop_out[i] = carried + frame[i] * synthesis_window_[i];
    }
    // The new tail: positions H..N-1 of (old tail shifted) + this frame.
    for (std::size_t i = 0; i < kept; ++i) {
        const float carried = hop + i < kept ? tail_[hop + i] : 0.0f;
        tail_[i] = carried + frame[hop + i] * synthesis_window_[hop + i];
    }
}

void StftSynthesis::save_state(std::span<float> out) const noexcept {
    std::copy(tail_.begin(), tail_.end(), out.begin());
}
void StftSynthesis::restore_state(std::span<const float> in) noexcept {
    std::copy(in.begin(), in.end(), tail_.begin());
}
void StftSynthesis::reset() noexcept { std::fill(tail_.begin(), tail_.end(), 0.0f); }

}  // namespace statestream::dsp

// Every stateful block can be snapshotted with the rest of its stream (dsp/stateful.hpp).
static_assert(statestream::dsp::StatefulBlock<statestream::dsp::StftAnalysis>);
static_assert(statestream::dsp::StatefulBlock<statestream::dsp::StftSynthesis>);
