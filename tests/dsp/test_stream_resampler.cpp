// Streaming resampling between the common rates: the reported latency is where an impulse
// lands, output counts follow the rate ratio exactly, a tone survives, block sizes do not
// change the output, and a restored snapshot continues as the original.

#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>
#include <numeric>
#include <random>
#include <vector>

#include "dsp/stream_resampler.hpp"

using statestream::dsp::ResamplerConfig;
using statestream::dsp::StreamResampler;
using Catch::Matchers::Contains;

namespace {

constexpr std::uint32_t kRates[] = {8000, 16000, 22050, 32000, 44100, 48000, 96000};

// Feeds x in blocks of the given sizes (cycled); returns everything the resampler emitted.
std::vector<float> run(StreamResampler& resampler, const std::vector<float>& x,
                       const std::vector<std::size_t>& blocks) {
    std::vector<float> out;
    std::vector<float> chunk(resampler.max_output_samples(resampler.config().max_input_samples));
    std::size_t at = 0;
    for (std::size_t i = 0; at < x.size(); ++i) {
        const std::size_t n = std::min(blocks[i % blocks.size()], x.size() - at);
        const std::size_t got = resampler.process(std::span<const float>(x).subspan(at, n), chunk);
        out.insert(out.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got));
        at += n;
    }
    return out;
}

std::size_t peak_index(const std::vector<float>& y) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < y.size(); ++i) {
        if (std::abs(y[i]) > std::abs(y[best])) best = i;
    }
    return best;
}

}  // namespace

TEST_CASE("Resampler latency is where an impulse lands, for every pair of common rates",
          "[dsp][resampler]") {
    for (const auto in_rate : kRates) {
        for (const auto out_rate : kRates) {
            if (in_rate == out_rate) continue;
            const std::uint64_t g = std::gcd(in_rate, out_rate);
            // An impulse at an input index whose output time is a whole sample, so the peak
            // falls on the grid; the hop is 10 ms.
            const std::size_t at = 5 * (in_rate / g);
            const std::size_t hop = in_rate / 100;
            StreamResampler resampler({in_rate, out_rate, {}, hop});
            std::vector<float> x(at + 3 * hop + 4 * in_rate / 100 + 8192, 0.0f);
            x[at] = 1.0f;
            const auto y = run(resampler, x, {hop});
            const std::size_t ideal = at * out_rate / in_rate;
            CAPTURE(in_rate, out_rate, resampler.latency_samples());
            REQUIRE(y.size() == x.size() * out_rate / in_rate);
            CHECK(peak_index(y) == ideal + resampler.latency_samples());
        }
    }
}

TEST_CASE("A tone comes through resampling clean", "[dsp][resampler]") {
    for (const auto& [in_rate, out_rate] : {std::pair{48000u, 16000u}, std::pair{16000u, 48000u},
                                           std::pair{44100u, 48000u}, std::pair{22050u, 16000u}}) {
        const double tone_hz = 1000.0;
        std::vector<float> x(in_rate);  // one second
        for (std::size_t t = 0; t < x.size(); ++t) {
            x[t] = 0.5f * static_cast<float>(std::sin(2.0 * std::numbers::pi * tone_hz * double(t) / in_rate));
        }
        StreamResampler resampler({in_rate, out_rate, {}, 512});
        const auto y = run(resampler, x, {512});
        const std::size_t delay = resampler.latency_samples();
        double error = 0.0;
        double signal = 0.0;
        for (std::size_t t = delay + out_rate / 10; t < y.size(); ++t) {
            const double want = 0.5 * std::sin(2.0 * std::numbers::pi * tone_hz * double(t - delay) / out_rate);
            error += (y[t] - want) * (y[t] - want);
            signal += want * want;
        }
        const double snr_db = 10.0 * std::log10(signal / error);
        CAPTURE(in_rate, out_rate, snr_db);
        CHECK(snr_db > 80.0);
    }
}

TEST_CASE("Resampled output does not depend on the block sizes", "[dsp][resampler]") {
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0.0f, 0.2f);
    std::vector<float> x(20000);
    for (auto& v : x) v = normal(rng);
    StreamResampler by_hop({44100, 16000, {}, 1024});
    StreamResampler ragged({44100, 16000, {}, 1024});
    const auto a = run(by_hop, x, {441});
    const auto b = run(ragged, x, {1, 1000, 7, 64, 1024, 333});
    REQUIRE(a.size() == b.size());
    double worst = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, double(std::abs(a[i] - b[i])));
    CHECK(worst < 1e-6);
}

TEST_CASE("A restored resampler continues as the saved one", "[dsp][resampler][snapshot]") {
    std::mt19937 rng(9);
    std::normal_distribution<float> normal(0.0f, 0.2f);
    for (const auto& [in_rate, out_rate] : {std::pair{48000u, 16000u}, std::pair{16000u, 48000u},
                                           std::pair{44100u, 48000u}, std::pair{96000u, 8000u}}) {
        for (const std::size_t split : {std::size_t{37}, std::size_t{50000}}) {  // early and late
            std::vector<float> x(90000);
            for (auto& v : x) v = normal(rng);
            const std::vector<float> head(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(split));
            const std::vector<float> tail(x.begin() + static_cast<std::ptrdiff_t>(split), x.end());
            StreamResampler original({in_rate, out_rate, {}, 1000});
            (void)run(original, head, {333});
            std::vector<float> saved(original.state_floats());
            original.save_state(saved);
            StreamResampler moved({in_rate, out_rate, {}, 1000});
            (void)run(moved, std::vector<float>(5000, 0.3f), {1000});  // some other stream first
            moved.restore_state(saved);
            const auto want = run(original, tail, {333});
            const auto got = run(moved, tail, {333});
            CAPTURE(in_rate, out_rate, split);
            REQUIRE(got.size() == want.size());
            double worst = 0.0;
            for (std::size_t i = 0; i < got.size(); ++i) {
                worst = std::max(worst, double(std::abs(got[i] - want[i])));
            }
            CAPTURE(worst);
            CHECK(worst < 1e-6);
        }
    }
}

TEST_CASE("Resampler configurations out of range are refused by name", "[dsp][resampler]") {
    REQUIRE_THROWS_WITH(StreamResampler({0, 16000, {}, 512}), Contains("input_rate_hz is 0 Hz"));
    REQUIRE_THROWS_WITH(StreamResampler({48000, 1000000, {}, 512}),
                        Contains("output_rate_hz is 1000000 Hz"));
    REQUIRE_THROWS_WITH(StreamResampler({48000, 16000, {}, 0}), Contains("max_input_samples is 0"));
}
