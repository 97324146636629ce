// Mel and ERB filterbanks, log-mel and log-ERB features, and gains back onto the spectrum,
// against the numpy reference of docs/features.md.

#include <catch2/catch.hpp>

#include <cmath>
#include <complex>
#include <vector>

#include "dsp/log_compress.hpp"
#include "dsp/log_mel_frontend.hpp"
#include "dsp/stft.hpp"
#include "dsp/triangular_filterbank.hpp"
#include "tests/dsp/dsp_fixture.hpp"

using statestream::dsp::erb_filterbank;
using statestream::dsp::mel_filterbank;
using statestream::test::dsp_fixture;
using statestream::test::relative_error;
using Catch::Matchers::Contains;

namespace {

// The 48 kHz enhancer analysis of the fixture chirp: vorbis 960 / 480.
statestream::dsp::StftConfig enhancer_stft() {
    statestream::dsp::StftConfig config;
    config.window = statestream::dsp::WindowShape::kVorbis;
    config.window_samples = 960;
    config.hop_samples = 480;
    // FFTW_MEASURE picks its algorithm by timing, so under load another plan (another float32
    // rounding) can win; a fixed plan keeps a comparison against golden values repeatable.
    config.planning = statestream::dsp::FftPlanning::kEstimate;
    return config;
}

}  // namespace

TEST_CASE("Mel and ERB weights match the reference", "[dsp][filterbank][fixtures]") {
    const auto mel = mel_filterbank(16000.0, 512, 40);
    CHECK(relative_error(mel.dense_weights(), dsp_fixture().doubles("mel_weights_16k")) < 1e-6);
    const auto erb = erb_filterbank(48000.0, 960, 64);
    CHECK(relative_error(erb.dense_weights(), dsp_fixture().doubles("erb_weights_48k")) < 1e-6);
}

TEST_CASE("ERB bands sum to one at every bin and none is empty", "[dsp][filterbank]") {
    for (const auto& [rate, fft, bands] : {std::tuple{48000.0, 960, 64}, std::tuple{16000.0, 320, 32},
                                          std::tuple{44100.0, 882, 64}, std::tuple{8000.0, 64, 33}}) {
        const auto erb = erb_filterbank(rate, static_cast<std::size_t>(fft),
                                        static_cast<std::size_t>(bands));
        const auto weights = erb.dense_weights();
        CAPTURE(rate, fft, bands);
        for (std::size_t k = 0; k < erb.bins(); ++k) {
            double sum = 0.0;
            for (std::size_t b = 0; b < erb.bands(); ++b) sum += weights[b * erb.bins() + k];
            REQUIRE(sum == Approx(1.0).margin(1e-6));
        }
        for (std::size_t b = 0; b < erb.bands(); ++b) {
            double band_sum = 0.0;
            for (std::size_t k = 0; k < erb.bins(); ++k) band_sum += weights[b * erb.bins() + k];
            REQUIRE(band_sum > 0.0);
        }
    }
    REQUIRE_THROWS_WITH(erb_filterbank(16000.0, 64, 40), Contains("40 bands need 2..fft_size/2+1"));
}

TEST_CASE("Log-mel features of a chirp match the reference", "[dsp][filterbank][fixtures]") {
    const auto chirp = dsp_fixture().floats("chirp_16k");
    const auto want = dsp_fixture().doubles("log_mel_16k");
    statestream::dsp::LogMelFrontend frontend({16000.0, 400, 160, 40});
    std::vector<float> got;
    std::vector<float> features(40);
    for (std::size_t at = 0; at + 160 <= chirp.size(); at += 160) {
        frontend.process(std::span<const float>(chirp).subspan(at, 160), features);
        got.insert(got.end(), features.begin(), features.end());
    }
    const double error = relative_error(got, want);
    CAPTURE(error);
    CHECK(error < 1e-5);
}

TEST_CASE("Log-ERB features, gains and the enhanced chirp match the reference",
          "[dsp][filterbank][fixtures]") {
    const auto chirp = dsp_fixture().floats("chirp_48k");
    const auto gains = dsp_fixture().floats("gains_64");
    const auto erb = erb_filterbank(48000.0, 960, 64);
    statestream::dsp::StftAnalysis analysis(enhancer_stft());
    statestream::dsp::StftSynthesis synthesis(enhancer_stft());
    std::vector<std::complex<float>> spectrum(481);
    std::vector<float> power(481);
    std::vector<float> bands(64);
    std::vector<float> bin_gains(481);
    erb.interpolate(gains, bin_gains);
    CHECK(relative_error(bin_gains, dsp_fixture().doubles("bin_gains_48k")) < 1e-6);

    std::vector<float> log_erb;
    std::vector<float> enhanced(chirp.size());
    for (std::size_t at = 0; at + 480 <= chirp.size(); at += 480) {
        analysis.process(std::span<const float>(chirp).subspan(at, 480), spectrum);
        statestream::dsp::power_spectrum(spectrum, power);
        erb.band_energies(power, bands);
        statestream::dsp::log_compress(bands, bands);
        log_erb.insert(log_erb.end(), bands.begin(), bands.end());
        statestream::dsp::apply_bin_gains(bin_gains, spectrum);
        synthesis.process(spectrum, std::span<float>(enhanced).subspan(at, 480));
    }
    const double feature_error = relative_error(log_erb, dsp_fixture().doubles("log_erb_48k"));
    const double audio_error = relative_error(enhanced, dsp_fixture().doubles("enhanced_48k"));
    CAPTURE(feature_error, audio_error);
    // The log turns float32 FFT rounding into relative error of the band energy, and some ERB
    // bands of this chirp carry 1e-9 of the peak energy: PyTorch's own float32 features reach
    // 2.6e-5 here (models/train/features.py), so the bound is 5e-5 for log-ERB (7.6e-6 with
    // the fixed plan; a 10 % change of the log floor gives 5.4e-4); the audio and the linear
    // quantities keep 1e-5.
    CHECK(feature_error < 5e-5);
    CHECK(audio_error < 1e-5);
}

TEST_CASE("Equal band gains scale every bin by that gain", "[dsp][filterbank]") {
    const auto erb = erb_filterbank(48000.0, 960, 64);
    std::vector<float> bin_gains(erb.bins());
    erb.interpolate(std::vector<float>(64, 0.25f), bin_gains);
    for (const float g : bin_gains) REQUIRE(g == Approx(0.25f).epsilon(1e-6));
}
