// STFT analysis and synthesis: perfect reconstruction after the declared latency for every
// window and several hops, the reference STFT of a chirp, bad configurations, and snapshots.

#include <catch2/catch.hpp>

#include <cmath>
#include <complex>
#include <random>
#include <vector>

#include "dsp/stft.hpp"
#include "tests/dsp/dsp_fixture.hpp"

using statestream::dsp::StftAnalysis;
using statestream::dsp::StftConfig;
using statestream::dsp::StftSynthesis;
using statestream::dsp::WindowShape;
using Catch::Matchers::Contains;

namespace {

std::vector<float> noise(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> uniform(-0.9f, 0.9f);
    std::vector<float> x(n);
    for (auto& v : x) v = uniform(rng);
    return x;
}

// Runs x through analysis and synthesis hop by hop; returns the output stream.
std::vector<float> round_trip(const StftConfig& config, const std::vector<float>& x) {
    StftAnalysis analysis(config);
    StftSynthesis synthesis(config);
    std::vector<std::complex<float>> spectrum(analysis.bins());
    std::vector<float> out(x.size());
    const std::size_t hop = config.hop_samples;
    for (std::size_t at = 0; at + hop <= x.size(); at += hop) {
        analysis.process(std::span<const float>(x).subspan(at, hop), spectrum);
        synthesis.process(spectrum, std::span<float>(out).subspan(at, hop));
    }
    return out;
}

// max|out[t] - x[t - delay]| / max|x| over the samples that went all the way through.
double reconstruction_error(const std::vector<float>& x, const std::vector<float>& out,
                            std::size_t delay, std::size_t usable) {
    double worst = 0.0;
    double peak = 0.0;
    for (std::size_t t = delay; t < usable; ++t) {
        worst = std::max(worst, std::abs(double(out[t]) - double(x[t - delay])));
        peak = std::max(peak, std::abs(double(x[t - delay])));
    }
    return worst / peak;
}

}  // namespace

TEST_CASE("STFT then iSTFT returns the input after exactly N - H samples", "[dsp][stft]") {
    struct Case { WindowShape window; std::size_t n, hop, fft; };
    const Case cases[] = {
        {WindowShape::kHann, 400, 160, 512},     // the log-mel front-end: H = 0.4 N, F > N
        {WindowShape::kHann, 512, 128, 0},       // H = N/4
        {WindowShape::kSqrtHann, 960, 480, 0},   // power-complementary pair
        {WindowShape::kVorbis, 960, 480, 0},     // the enhancer's bands
        {WindowShape::kVorbis, 441, 147, 0},     // odd sizes, H = N/3
        {WindowShape::kSqrtHann, 300, 100, 512},
    };
    for (const auto& c : cases) {
        StftConfig config;
        config.window = c.window;
        config.window_samples = c.n;
        config.hop_samples = c.hop;
        config.fft_size = c.fft;
        const std::size_t length = c.hop * 200;
        const auto x = noise(length, 7);
        const auto out = round_trip(config, x);
        const std::size_t latency = StftSynthesis(config).latency_samples();
        CAPTURE(window_shape_name(c.window), c.n, c.hop, c.fft);
        REQUIRE(latency == c.n - c.hop);
        const double error = reconstruction_error(x, out, latency, length);
        CAPTURE(error);
        CHECK(error < 1e-5);
        // One sample off is not a reconstruction: the latency is exact, not approximate.
        CHECK(reconstruction_error(x, out, latency + 1, length) > 0.1);
    }
}

TEST_CASE("STFT of a chirp matches the numpy reference", "[dsp][stft][fixtures]") {
    const auto& fixture = statestream::test::dsp_fixture();
    const auto chirp = fixture.floats("chirp_16k");
    const auto want_real = fixture.doubles("stft_16k_real");
    const auto want_imag = fixture.doubles("stft_16k_imag");
    StftConfig config;  // hann, 400 / 160, F 512
    config.fft_size = 512;
    StftAnalysis analysis(config);
    REQUIRE(analysis.bins() == 257);
    std::vector<std::complex<float>> spectrum(257);
    std::vector<double> got_real;
    std::vector<double> got_imag;
    for (std::size_t at = 0; at + 160 <= chirp.size(); at += 160) {
        analysis.process(std::span<const float>(chirp).subspan(at, 160), spectrum);
        for (const auto& value : spectrum) {
            got_real.push_back(value.real());
            got_imag.push_back(value.imag());
        }
    }
    REQUIRE(got_real.size() == want_real.size());
    const double error = std::max(statestream::test::relative_error(got_real, want_real),
                                  statestream::test::relative_error(got_imag, want_imag));
    CAPTURE(error);
    CHECK(error < 1e-5);
}

TEST_CASE("Windows match the reference definitions", "[dsp][stft][fixtures]") {
    const auto& fixture = statestream::test::dsp_fixture();
    for (const auto& [shape, name] : {std::pair{WindowShape::kHann, "window_hann_400"},
                                      std::pair{WindowShape::kSqrtHann, "window_sqrt_hann_400"},
                                      std::pair{WindowShape::kVorbis, "window_vorbis_400"}}) {
        CAPTURE(name);
        CHECK(statestream::test::relative_error(statestream::dsp::make_window(shape, 400),
                                                fixture.doubles(name)) < 1e-7);
    }
}

TEST_CASE("STFT configurations that cannot work are refused by name", "[dsp][stft]") {
    StftConfig config;
    config.hop_samples = 401;
    REQUIRE_THROWS_WITH(StftAnalysis(config), Contains("hop_samples is 401"));
    config.hop_samples = 160;
    config.fft_size = 256;
    REQUIRE_THROWS_WITH(StftAnalysis(config), Contains("fft_size 256 is smaller than window"));
    config.fft_size = 0;
    config.hop_samples = 400;  // hann is 0 at n = 0: nothing covers offset 0 without overlap
    REQUIRE_THROWS_WITH(StftSynthesis(config), Contains("does not overlap-add at hop 400"));
}

TEST_CASE("STFT state snapshots continue bit for bit", "[dsp][stft][snapshot]") {
    StftConfig config;
    config.window = WindowShape::kVorbis;
    config.window_samples = 960;
    config.hop_samples = 480;
    const auto x = noise(480 * 40, 3);
    const auto reference = round_trip(config, x);

    StftAnalysis analysis(config);
    StftSynthesis synthesis(config);
    std::vector<std::complex<float>> spectrum(analysis.bins());
    std::vector<float> out(x.size());
    const auto run = [&](StftAnalysis& a, StftSynthesis& s, std::size_t from, std::size_t to) {
        for (std::size_t at = from; at < to; at += 480) {
            a.process(std::span<const float>(x).subspan(at, 480), spectrum);
            s.process(spectrum, std::span<float>(out).subspan(at, 480));
        }
    };
    run(analysis, synthesis, 0, 480 * 17);
    std::vector<float> saved_a(analysis.state_floats());
    std::vector<float> saved_s(synthesis.state_floats());
    analysis.save_state(saved_a);
    synthesis.save_state(saved_s);

    StftAnalysis moved_a(config);
    StftSynthesis moved_s(config);
    moved_a.restore_state(saved_a);
    moved_s.restore_state(saved_s);
    run(moved_a, moved_s, 480 * 17, x.size());
    CHECK(out == reference);

    analysis.reset();
    synthesis.reset();
    std::fill(out.begin(), out.end(), 0.0f);
    run(analysis, synthesis, 0, x.size());
    CHECK(out == reference);
}
