#pragma once
// Streaming STFT analysis and synthesis (docs/features.md, "Framing and the STFT" and "Inverse
// STFT"): one hop of samples in, one spectrum out, and back. Analysis emits a frame as soon as
// its last hop arrives (latency 0); synthesis overlap-adds and emits the first hop of its buffer,
// which is complete only N - H samples after it entered: the pair's latency is N - H.

#include <complex>
#include <cstddef>
#include <span>
#include <vector>

#include "dsp/real_fft.hpp"
#include "dsp/window.hpp"

namespace statestream::dsp {

struct StftConfig {
    WindowShape window = WindowShape::kHann;
    std::size_t window_samples = 400;  // N: 25 ms at 16 kHz
    std::size_t hop_samples = 160;     // H: 10 ms at 16 kHz, one model step per hop
    std::size_t fft_size = 0;          // F >= N; 0 means N
    FftPlanning planning = FftPlanning::kMeasure;

    [[nodiscard]] std::size_t resolved_fft_size() const noexcept {
        return fft_size == 0 ? window_samples : fft_size;
    }
    [[nodiscard]] std::size_t bins() const noexcept { return resolved_fft_size() / 2 + 1; }
};

// Thread: setup. Throws std::invalid_argument naming the field unless 1 <= H <= N <= F.
void validate(const StftConfig& config);

class StftAnalysis {
public:
    // Thread: setup. Allocates the frame history and makes the FFT plans.
    explicit StftAnalysis(const StftConfig& config);

    [[nodiscard]] const StftConfig& config() const noexcept { return config_; }
    [[nodiscard]] std::size_t hop() const noexcept { return config_.hop_samples; }
    [[nodiscard]] std::size_t bins() const noexcept { return config_.bins(); }
    [[nodiscard]] static constexpr std::size_t latency_samples() noexcept { return 0; }

    // Thread: real-time. hop_in.size() == hop(), spectrum.size() == bins().
    void process(std::span<const float> hop_in, std::span<std::complex<float>> spectrum) noexcept;

    // The last N - H input samples (the next frame's head).
    [[nodiscard]] std::size_t state_floats() const noexcept { return history_.size(); }
    void save_state(std::span<float> out) const noexcept;
    void restore_state(std::span<const float> in) noexcept;
    void reset() noexcept;

private:
    StftConfig config_;
    std::vector<float> window_;
    std::vector<float> history_;  // N - H samples, oldest first
    RealFft fft_;
};

class StftSynthesis {
public:
    // Thread: setup. Throws std::invalid_argument when the window does not overlap-add at this
    // hop (a window-sum of zero somewhere).
    explicit StftSynthesis(const StftConfig& config);

    [[nodiscard]] std::size_t hop() const noexcept { return config_.hop_samples; }
    [[nodiscard]] std::size_t bins() const noexcept { return config_.bins(); }
    [[nodiscard]] std::size_t latency_samples() const noexcept {
        return config_.window_samples - config_.hop_samples;
    }

    // Thread: real-time. spectrum.size() == bins(), hop_out.size() == hop().
    void process(std::span<const std::complex<float>> spectrum, std::span<float> hop_out) noexcept;

    // The overlap-add tail: N - H partial sums waiting for later frames.
    [[nodiscard]] std::size_t state_floats() const noexcept { return tail_.size(); }
    void save_state(std::span<float> out) const noexcept;
    void restore_state(std::span<const float> in) noexcept;
    void reset() noexcept;

private:
    StftConfig config_;
    std::vector<float> synthesis_window_;  // w[n] / d[n mod H] / F (F undoes the unnormalised c2r)
    std::vector<float> tail_;              // N - H samples
    RealFft fft_;
};

}  // namespace statestream::dsp
