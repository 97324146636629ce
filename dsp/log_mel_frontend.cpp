#include "dsp/log_mel_frontend.hpp"
#include "dsp/stateful.hpp"

#include <bit>

#include "dsp/log_compress.hpp"

namespace statestream::dsp {

namespace {
StftConfig stft_config(const LogMelConfig& config) {
    StftConfig stft;
    stft.window = WindowShape::kHann;
    stft.window_samples = config.window_samples;
    stft.hop_samples = config.hop_samples;
    stft.fft_size = std::bit_ceil(config.window_samples);
    return stft;
}
}  // namespace

LogMelFrontend::LogMelFrontend(const LogMelConfig& config)
    : stft_(stft_config(config)),
      mel_(mel_filterbank(config.rate_hz, stft_config(config).fft_size, config.bands)),
      spectrum_(stft_.bins()),
      power_(stft_.bins()) {}

void LogMelFrontend::process(std::span<const float> hop_in, std::span<float> features) noexcept {
    stft_.process(hop_in, spectrum_);
    power_spectrum(spectrum_, power_);
    mel_.band_energies(power_, features);
    log_compress(features, features);
}

}  // namespace statestream::dsp

// Every stateful block can be snapshotted with the rest of its stream (dsp/stateful.hpp).
static_assert(statestream::dsp::StatefulBlock<statestream::dsp::LogMelFrontend>);
