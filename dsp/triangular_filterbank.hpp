#pragma once
// Triangular filterbanks over a power spectrum (docs/features.md, "Triangular filterbanks"):
// mel for speech features, ERB for the enhancer's bands, and the inverse direction, band gains
// interpolated back onto the bins. Weights are stored sparsely: each band touches a contiguous
// run of bins.

#include <complex>
#include <cstddef>
#include <span>
#include <vector>

namespace statestream::dsp {

class TriangularFilterbank {
public:
    // Thread: setup. Band b rises from edges_hz[b] to its peak edges_hz[b+1] and falls to
    // edges_hz[b+2]; bins k = 0 .. fft_size/2 sit at k * rate_hz / fft_size. Throws
    // std::invalid_argument unless the edges increase.
    TriangularFilterbank(double rate_hz, std::size_t fft_size, std::span<const double> edges_hz);

    [[nodiscard]] std::size_t bands() const noexcept { return first_bin_.size(); }
    [[nodiscard]] std::size_t bins() const noexcept { return bins_; }

    // Thread: real-time. power.size() == bins(), energies.size() == bands().
    void band_energies(std::span<const float> power, std::span<float> energies) const noexcept;
    // Thread: real-time. gains.size() == bands(), bin_gains.size() == bins(): each bin gets the
    // weight-interpolated gain of the bands covering it.
    void interpolate(std::span<const float> gains, std::span<float> bin_gains) const noexcept;

    // Thread: setup. The dense [bands][bins] weights, for tests and inspection.
    [[nodiscard]] std::vector<float> dense_weights() const;

private:
    std::size_t bins_ = 0;
    std::vector<std::size_t> first_bin_;  // per band
    std::vector<std::size_t> offset_;     // per band, into weights_; bands()+1 entries
    std::vector<float> weights_;
};

// Thread: setup. HTK mel bands, edges equally spaced in mel from low_hz to high_hz (0 means
// rate/2); torchaudio's melscale_fbanks(norm=None, mel_scale="htk").
[[nodiscard]] TriangularFilterbank mel_filterbank(double rate_hz, std::size_t fft_size,
                                                  std::size_t bands, double low_hz = 0.0,
                                                  double high_hz = 0.0);
// Thread: setup. ERB bands peaking from DC to Nyquist, never closer than one bin, summing to 1
// at every bin. Throws std::invalid_argument unless 2 <= bands <= fft_size/2 + 1.
[[nodiscard]] TriangularFilterbank erb_filterbank(double rate_hz, std::size_t fft_size,
                                                  std::size_t bands);

// Thread: real-time. power[k] = |spectrum[k]|^2.
void power_spectrum(std::span<const std::complex<float>> spectrum, std::span<float> power) noexcept;
// Thread: real-time. spectrum[k] *= bin_gains[k].
void apply_bin_gains(std::span<const float> bin_gains,
                     std::span<std::complex<float>> spectrum) noexcept;

}  // namespace statestream::dsp
