// Streaming deltas against the reference, with their two-frame latency, and snapshots.

#include <catch2/catch.hpp>

#include <vector>

#include "dsp/delta_features.hpp"
#include "tests/dsp/dsp_fixture.hpp"

using statestream::dsp::DeltaFeatures;
using statestream::test::dsp_fixture;

TEST_CASE("Deltas of log-mel frames match the reference two frames late", "[dsp][deltas][fixtures]") {
    const auto frames = dsp_fixture().floats("log_mel_16k");  // [25, 40]
    const auto want = dsp_fixture().doubles("deltas_16k");    // [23, 40]: frames 0..22
    DeltaFeatures deltas(40);
    std::vector<float> got;
    std::vector<float> delta(40);
    for (std::size_t m = 0; m < 25; ++m) {
        deltas.process(std::span<const float>(frames).subspan(m * 40, 40), delta);
        if (m >= DeltaFeatures::kLatencyFrames) got.insert(got.end(), delta.begin(), delta.end());
    }
    const double error = statestream::test::relative_error(got, want);
    CAPTURE(error);
    CHECK(error < 1e-5);
}

TEST_CASE("Delta snapshots continue bit for bit", "[dsp][deltas][snapshot]") {
    DeltaFeatures original(3);
    DeltaFeatures moved(3);
    std::vector<float> a(3);
    std::vector<float> b(3);
    for (int m = 0; m < 9; ++m) {
        const float frame[3] = {float(m * m), float(-m), 0.5f};
        original.process(frame, a);
    }
    std::vector<float> saved(original.state_floats());
    original.save_state(saved);
    moved.restore_state(saved);
    for (int m = 9; m < 15; ++m) {
        const float frame[3] = {float(m * m), float(-m), 0.5f};
        original.process(frame, a);
        moved.process(frame, b);
        REQUIRE(a == b);
    }
}
