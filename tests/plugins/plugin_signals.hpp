#pragma once
// Signals and measures shared by the plugin tests: seeded noise and tones, levels, the largest
// difference, and the level of a frequency band (Welch: Hann-windowed power spectra averaged).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <random>
#include <span>
#include <vector>

#include "dsp/real_fft.hpp"

namespace statestream::test {

inline std::vector<float> white_noise(std::size_t frames, float rms, std::uint32_t seed) {
    std::mt19937 generator(seed);
    std::normal_distribution<float> normal(0.0f, rms);
    std::vector<float> samples(frames);
    for (auto& sample : samples) sample = normal(generator);
    return samples;
}

inline std::vector<float> tone(std::size_t frames, double hz, double rate_hz, float amplitude) {
    std::vector<float> samples(frames);
    for (std::size_t i = 0; i < frames; ++i) {
        samples[i] = amplitude * static_cast<float>(std::sin(2.0 * std::numbers::pi * hz * i / rate_hz));
    }
    return samples;
}

inline double rms(std::span<const float> samples) {
    double sum = 0.0;
    for (float x : samples) sum += static_cast<double>(x) * x;
    return samples.empty() ? 0.0 : std::sqrt(sum / static_cast<double>(samples.size()));
}

inline double max_abs(std::span<const float> samples) {
    double m = 0.0;
    for (float x : samples) m = std::max(m, static_cast<double>(std::abs(x)));
    return m;
}

// max |a[i] - b[i]| over the common length.
inline double max_difference(std::span<const float> a, std::span<const float> b) {
    double m = 0.0;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
        m = std::max(m, std::abs(static_cast<double>(a[i]) - b[i]));
    }
    return m;
}

// Mean power per bin between low_hz and high_hz, in dB, over 4096-sample Hann frames with half
// overlap.
inline double band_level_db(std::span<const float> samples, double rate_hz, double low_hz,
                            double high_hz) {
    constexpr std::size_t kFrame = 4096;
    dsp::RealFft fft(kFrame, dsp::FftPlanning::kEstimate);
    std::vector<double> power(fft.bins(), 0.0);
    std::size_t frames = 0;
    for (std::size_t at = 0; at + kFrame <= samples.size(); at += kFrame / 2, ++frames) {
        auto time = fft.time();
        for (std::size_t i = 0; i < kFrame; ++i) {
            const double window = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / kFrame);
            time[i] = static_cast<float>(window * samples[at + i]);
        }
        fft.forward();
        const auto spectrum = fft.spectrum();
        for (std::size_t k = 0; k < power.size(); ++k) power[k] += std::norm(spectrum[k]);
    }
    double sum = 0.0;
    std::size_t bins = 0;
    for (std::size_t k = 0; k < power.size(); ++k) {
        const double hz = k * rate_hz / kFrame;
        if (hz < low_hz || hz > high_hz) continue;
        sum += power[k];
        ++bins;
    }
    return 10.0 * std::log10(sum / static_cast<double>(std::max<std::size_t>(bins, 1) * std::max<std::size_t>(frames, 1)) + 1e-30);
}

}  // namespace statestream::test
