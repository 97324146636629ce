#pragma once
// The `log_mel` front-end of speech models (docs/features.md): hann-windowed STFT, HTK mel
// bands, log compression. One hop of audio in, one feature vector out, as in training
// (models/train/features.py, log_mel).

#include <complex>
#include <cstddef>
#include <span>
#include <vector>

#include "dsp/stft.hpp"
#include "dsp/triangular_filterbank.hpp"

namespace statestream::dsp {

struct LogMelConfig {
    double rate_hz = 16000.0;
    std::size_t window_samples = 400;  // 25 ms
    std::size_t hop_samples = 160;     // 10 ms
    std::size_t bands = 40;
};

class LogMelFrontend {
public:
    // Thread: setup. FFT size: the smallest power of two >= window_samples.
    explicit LogMelFrontend(const LogMelConfig& config);

    [[nodiscard]] std::size_t hop() const noexcept { return stft_.hop(); }
    [[nodiscard]] std::size_t bands() const noexcept { return mel_.bands(); }
    [[nodiscard]] const TriangularFilterbank& filterbank() const noexcept { return mel_; }

    // Thread: real-time. hop_in.size() == hop(), features.size() == bands().
    void process(std::span<const float> hop_in, std::span<float> features) noexcept;

    [[nodiscard]] std::size_t state_floats() const noexcept { return stft_.state_floats(); }
    void save_state(std::span<float> out) const noexcept { stft_.save_state(out); }
    void restore_state(std::span<const float> in) noexcept { stft_.restore_state(in); }
    void reset() noexcept { stft_.reset(); }

private:
    StftAnalysis stft_;
    TriangularFilterbank mel_;
    std::vector<std::complex<float>> spectrum_;
    std::vector<float> power_;
};

}  // namespace statestream::dsp
