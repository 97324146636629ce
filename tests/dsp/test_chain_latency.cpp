// Latency is a measured fact: an impulse through a whole chain (48 kHz -> 16 kHz, STFT, band
// gains, iSTFT, -> 48 kHz) comes out exactly where the sum of the blocks' reported latencies
// says.

#include <catch2/catch.hpp>

#include <cmath>
#include <complex>
#include <vector>

#include "dsp/latency.hpp"
#include "dsp/stft.hpp"
#include "dsp/stream_resampler.hpp"
#include "dsp/triangular_filterbank.hpp"

using namespace statestream::dsp;

TEST_CASE("An impulse through resample, STFT, gains, iSTFT, resample lands at the summed latency",
          "[dsp][latency]") {
    constexpr std::size_t kHop48 = 480;  // 10 ms
    constexpr std::size_t kHop16 = 160;
    StreamResampler down({48000, 16000, {}, kHop48});
    StftConfig stft_config;  // 400 / 160 at 16 kHz: latency 240
    stft_config.window = WindowShape::kSqrtHann;
    StftAnalysis analysis(stft_config);
    StftSynthesis synthesis(stft_config);
    const auto erb = erb_filterbank(16000.0, 400, 32);
    StreamResampler up({16000, 48000, {}, kHop16});
    std::vector<float> bin_gains(analysis.bins());
    erb.interpolate(std::vector<float>(32, 0.5f), bin_gains);

    const BlockLatency blocks[] = {
        {"resample 48000->16000", down.latency_samples(), 16000},
        {"stft", StftAnalysis::latency_samples(), 16000},
        {"istft", synthesis.latency_samples(), 16000},
        {"resample 16000->48000", up.latency_samples(), 48000},
    };
    const double expected = total_latency_samples(blocks, 48000);
    INFO("blocks: " << blocks[0].samples << " @16k + " << blocks[2].samples << " @16k + "
                    << blocks[3].samples << " @48k = " << expected << " samples @48k");
    REQUIRE(expected == std::floor(expected));  // on the 48 kHz grid

    const std::size_t impulse_at = 4800 + 3 * 17;  // a multiple of 3: lands on the 16 kHz grid
    std::vector<float> x(48000, 0.0f);
    x[impulse_at] = 1.0f;
    std::vector<float> y;
    std::vector<float> at16(kHop16 + 1);
    std::vector<float> back16(kHop16);
    std::vector<float> at48(up.max_output_samples(kHop16));
    std::vector<std::complex<float>> spectrum(analysis.bins());
    for (std::size_t at = 0; at + kHop48 <= x.size(); at += kHop48) {
        const std::size_t n16 = down.process(std::span<const float>(x).subspan(at, kHop48), at16);
        REQUIRE(n16 == kHop16);
        analysis.process(std::span<const float>(at16).first(kHop16), spectrum);
        apply_bin_gains(bin_gains, spectrum);
        synthesis.process(spectrum, back16);
        const std::size_t n48 = up.process(back16, at48);
        y.insert(y.end(), at48.begin(), at48.begin() + static_cast<std::ptrdiff_t>(n48));
    }
    std::size_t peak = 0;
    for (std::size_t i = 1; i < y.size(); ++i) {
        if (std::abs(y[i]) > std::abs(y[peak])) peak = i;
    }
    CHECK(peak - impulse_at == static_cast<std::size_t>(expected));
}
