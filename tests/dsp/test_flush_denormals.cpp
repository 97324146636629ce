#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <thread>

#include "dsp/flush_denormals.hpp"

namespace {

// Halving the smallest normal float gives a denormal unless FTZ is on. `volatile` keeps the
// compiler from folding it at compile time, where the thread's FP mode does not apply.
float halve_smallest_normal() {
    volatile float x = std::numeric_limits<float>::min();
    volatile float half = 0.5f;
    return x * half;
}

}  // namespace

TEST_CASE("enable_flush_to_zero flushes denormals on the calling thread only", "[dsp][rt]") {
    float on_rt_thread = -1.0f;
    bool enabled = false;
    std::thread rt([&] {
        statestream::dsp::enable_flush_to_zero();
        enabled = statestream::dsp::flush_to_zero_enabled();
        on_rt_thread = halve_smallest_normal();
    });
    rt.join();
    REQUIRE(enabled);
    CHECK(on_rt_thread == 0.0f);

    // This thread never enabled it: the same arithmetic keeps its denormal result.
    REQUIRE_FALSE(statestream::dsp::flush_to_zero_enabled());
    const float here = halve_smallest_normal();
    CHECK(std::fpclassify(here) == FP_SUBNORMAL);
}
