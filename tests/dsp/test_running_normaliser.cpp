// The running normaliser against the reference sequence (irregular time steps, a level shift,
// NaN and Inf gaps), and its snapshots.

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "dsp/running_normaliser.hpp"
#include "tests/dsp/dsp_fixture.hpp"

using statestream::dsp::RunningNormaliser;
using statestream::test::dsp_fixture;
using Catch::Matchers::Contains;

TEST_CASE("Running normaliser matches the reference across gaps", "[dsp][normaliser][fixtures]") {
    const auto input = dsp_fixture().floats("normaliser_input");
    const auto dt = dsp_fixture().doubles("normaliser_dt");
    const auto gap = dsp_fixture().doubles("normaliser_gap_mask");
    const auto want = dsp_fixture().doubles("normaliser_output");
    RunningNormaliser normaliser({1, 20.0, 1e-4});
    std::vector<float> got(input.size());
    std::uint64_t gaps = 0;
    for (std::size_t t = 0; t < input.size(); ++t) {
        float x = input[t];
        if (gap[t] != 0.0) {
            x = (gaps++ % 2 == 0) ? std::numeric_limits<float>::quiet_NaN()
                                  : std::numeric_limits<float>::infinity();
        }
        normaliser.process({&x, 1}, dt[t], {&got[t], 1});
    }
    REQUIRE(gaps > 0);
    CHECK(normaliser.gaps() == gaps);
    const double error = statestream::test::relative_error(got, want);
    CAPTURE(error);
    CHECK(error < 1e-5);
}

TEST_CASE("A gap leaves the moments untouched and outputs 0", "[dsp][normaliser]") {
    RunningNormaliser with_gap({2, 10.0, 1e-4});
    RunningNormaliser without({2, 10.0, 1e-4});
    float out[2];
    for (int t = 0; t < 50; ++t) {
        const float x[2] = {float(t % 7), float(t) * 0.5f};
        with_gap.process(x, 1.0, out);
        without.process(x, 1.0, out);
    }
    const float holes[2] = {std::numeric_limits<float>::quiet_NaN(),
                            -std::numeric_limits<float>::infinity()};
    with_gap.process(holes, 1.0, out);
    CHECK(out[0] == 0.0f);
    CHECK(out[1] == 0.0f);
    // After the gap, the normaliser is the one without it seeing a longer time step.
    const float next[2] = {3.0f, 30.0f};
    float a[2];
    float b[2];
    with_gap.process(next, 1.0, a);
    without.process(next, 2.0, b);
    CHECK(a[0] == b[0]);
    CHECK(a[1] == b[1]);
    CHECK(std::isfinite(a[0]));
}

TEST_CASE("Normaliser snapshots continue bit for bit", "[dsp][normaliser][snapshot]") {
    RunningNormaliser original({3, 5.0, 1e-4});
    float out[3];
    for (int t = 0; t < 40; ++t) {
        const float x[3] = {std::sin(float(t)), float(t), t == 20 ? NAN : 1.0f};
        original.process(x, 0.5 + 0.1 * (t % 3), out);
    }
    std::vector<float> saved(original.state_floats());
    original.save_state(saved);
    RunningNormaliser moved({3, 5.0, 1e-4});
    moved.restore_state(saved);
    for (int t = 40; t < 80; ++t) {
        const float x[3] = {std::sin(float(t)), float(t), 2.0f};
        float a[3];
        float b[3];
        original.process(x, 0.7, a);
        moved.process(x, 0.7, b);
        for (int i = 0; i < 3; ++i) REQUIRE(a[i] == b[i]);
    }
    REQUIRE_THROWS_WITH(RunningNormaliser({3, 0.0, 1e-4}), Contains("time_constant > 0"));
}
