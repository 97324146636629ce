#include "dsp/triangular_filterbank.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace statestream::dsp {

TriangularFilterbank::TriangularFilterbank(double rate_hz, std::size_t fft_size,
                                           std::span<const double> edges_hz)
    : bins_(fft_size / 2 + 1) {
    if (edges_hz.size() < 3) {
        throw std::invalid_argument("filterbank: needs at least 3 edges (one band), got " +
                                    std::to_string(edges_hz.size()));
    }
    for (std::size_t i = 1; i < edges_hz.size(); ++i) {
        if (!(edges_hz[i] > edges_hz[i - 1])) {
            throw std::invalid_argument("filterbank: edge " + std::to_string(i) + " (" +
                                        std::to_string(edges_hz[i]) +
                                        " Hz) does not increase; too many bands for the range?");
        }
    }
    const std::size_t n_bands = edges_hz.size() - 2;
    const double bin_hz = rate_hz / static_cast<double>(fft_size);
    offset_.push_back(0);
    for (std::size_t b = 0; b < n_bands; ++b) {
        const double lower = edges_hz[b];
        const double peak = edges_hz[b + 1];
        const double upper = edges_hz[b + 2];
        std::size_t first = bins_;
        std::vector<float> run;
        for (std::size_t k = 0; k < bins_; ++k) {
            const double f = static_cast<double>(k) * bin_hz;
            const double weight =
                std::max(0.0, std::min((f - lower) / (peak - lower), (upper - f) / (upper - peak)));
            if (weight > 0.0) {
                if (first == bins_) first = k;
                // Zeros between the first and last positive bin cannot occur in a triangle.
                run.push_back(static_cast<float>(weight));
            }
        }
        first_bin_.push_back(first == bins_ ? 0 : first);
        weights_.insert(weights_.end(), run.begin(), run.end());
        offset_.push_back(weights_.size());
    }
}

void TriangularFilterbank::band_energies(std::span<const float> power,
                                         std::span<float> energies) const noexcept {
    for (std::size_t b = 0; b < bands(); ++b) {
        const float* weight = weights_.data() + offset_[b];
        const float* bin = power.data() + first_bin_[b];
        const std::size_t count = offset_[b + 1] - offset_[b];
        float sum = 0.0f;
        for (std::size_t i = 0; i < count; ++i) sum += weight[i] * bin[i];
        energies[b] = sum;
    }
}

void TriangularFilterbank::interpolate(std::span<const float> gains,
                                       std::span<float> bin_gains) const noexcept {
    std::fill(bin_gains.begin(), bin_gains.end(), 0.0f);
    for (std::size_t b = 0; b < bands(); ++b) {
        const float* weight = weights_.data() + offset_[b];
        float* bin = bin_gains.data() + first_bin_[b];
        const std::size_t count = offset_[b + 1] - offset_[b];
        for (std::size_t i = 0; i < count; ++i) bin[i] += weight[i] * gains[b];
    }
}

std::vector<float> TriangularFilterbank::dense_weights() const {
    std::vector<float> dense(bands() * bins_, 0.0f);
    for (std::size_t b = 0; b < bands(); ++b) {
        for (std::size_t i = offset_[b]; i < offset_[b + 1]; ++i) {
            dense[b * bins_ + first_bin_[b] + (i - offset_[b])] = weights_[i];
        }
    }
    return dense;
}

namespace {
double hz_to_mel(double hz) { return 2595.0 * std::log10(1.0 + hz / 700.0); }
double mel_to_hz(double mel) { return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0); }
double hz_to_erb_rate(double hz) { return 21.4 * std::log10(1.0 + 0.00437 * hz); }
double erb_rate_to_hz(double erb) { return (std::pow(10.0, erb / 21.4) - 1.0) / 0.00437; }
}  // namespace

TriangularFilterbank mel_filterbank(double rate_hz, std::size_t fft_size, std::size_t bands,
                                    double low_hz, double high_hz) {
    if (high_hz <= 0.0) high_hz = rate_hz / 2.0;
    if (bands < 1 || !(low_hz >= 0.0) || !(high_hz > low_hz) || high_hz > rate_hz / 2.0) {
        throw std::invalid_argument("mel filterbank: " + std::to_string(bands) + " bands from " +
                                    std::to_string(low_hz) + " to " + std::to_string(high_hz) +
                                    " Hz does not fit 0..rate/2 (" +
                                    std::to_string(rate_hz / 2.0) + " Hz)");
    }
    const double low = hz_to_mel(low_hz);
    const double high = hz_to_mel(high_hz);
    std::vector<double> edges(bands + 2);
    for (std::size_t i = 0; i < edges.size(); ++i) {
        edges[i] = mel_to_hz(low + (high - low) * static_cast<double>(i) /
                                       static_cast<double>(bands + 1));
    }
    return TriangularFilterbank(rate_hz, fft_size, edges);
}

TriangularFilterbank erb_filterbank(double rate_hz, std::size_t fft_size, std::size_t bands) {
    if (bands < 2 || bands > fft_size / 2 + 1) {
        throw std::invalid_argument("ERB filterbank: " + std::to_string(bands) +
                                    " bands need 2..fft_size/2+1 (" +
                                    std::to_string(fft_size / 2 + 1) + ")");
    }
    const double nyquist = rate_hz / 2.0;
    const double bin_hz = rate_hz / static_cast<double>(fft_size);
    const double top = hz_to_erb_rate(nyquist);
    std::vector<double> peaks(bands);
    for (std::size_t b = 0; b < bands; ++b) {
        const double on_scale =
            erb_rate_to_hz(static_cast<double>(b) * top / static_cast<double>(bands - 1));
        peaks[b] = std::min(nyquist, std::max(static_cast<double>(b) * bin_hz, on_scale));
    }
    peaks[bands - 1] = nyquist;
    std::vector<double> edges(bands + 2);
    edges[0] = -peaks[1];
    for (std::size_t b = 0; b < bands; ++b) edges[b + 1] = peaks[b];
    edges[bands + 1] = rate_hz - peaks[bands - 2];
    return TriangularFilterbank(rate_hz, fft_size, edges);
}

void power_spectrum(std::span<const std::complex<float>> spectrum,
                    std::span<float> power) noexcept {
    for (std::size_t k = 0; k < spectrum.size(); ++k) power[k] = std::norm(spectrum[k]);
}

void apply_bin_gains(std::span<const float> bin_gains,
                     std::span<std::complex<float>> spectrum) noexcept {
    for (std::size_t k = 0; k < spectrum.size(); ++k) spectrum[k] *= bin_gains[k];
}

}  // namespace statestream::dsp
