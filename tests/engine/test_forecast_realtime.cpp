// StreamForecaster::process allocates nothing per tick once every stream has its slot: the
// forecasting thread steps tens of thousands of streams a second and the allocator must be
// neither its bottleneck nor its jitter. Allocator calls on this thread are counted
// (tests/support/allocation_hooks). Release tree.

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "engine/forecast/stream_forecaster.hpp"
#include "engine/io/tick_parser.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"
#include "tests/support/allocation_hooks.hpp"

using namespace statestream::engine::forecast;
using statestream::engine::io::StreamIds;
using statestream::engine::io::Tick;
using statestream::test::ArmAllocationHooks;
using statestream::test::armed_allocator_calls;

TEST_CASE("StreamForecaster: ticks of live streams do not allocate, batched or one at a time",
          "[engine][forecast][rt]") {
    const auto file = statestream::models::ModelFile::load(
        std::filesystem::path(STATESTREAM_DATA_DIR) / "fixtures" / "forecast_fixture.safetensors");
    const statestream::models::SsmModel model(file);
    constexpr std::uint32_t kStreams = 23;
    StreamIds ids(kStreams);
    for (std::uint32_t s = 0; s < kStreams; ++s) {
        std::string name = "s";
        name += std::to_string(s);
        (void)ids.find_or_add(name);
    }
    std::vector<Tick> ticks;
    for (std::int64_t round = 0; round < 40; ++round) {
        for (std::uint32_t s = 0; s < kStreams; ++s) {
            // Gaps included; every third stream ticks twice a round (rounds within a batch).
            const float value = (round + s) % 7 == 3 ? NAN : 100.0f + static_cast<float>(round % 5);
            ticks.push_back({s, round * 1'000'000'000 + s, value, {}});
            if (s % 3 == 0) ticks.push_back({s, round * 1'000'000'000 + s + 1, value, {}});
        }
    }
    const std::span<const Tick> warm_up = std::span<const Tick>(ticks).first(2 * kStreams);
    const std::span<const Tick> measured = std::span<const Tick>(ticks).subspan(2 * kStreams);

    // Batched on oneTBB (threads 0: chunks on other threads too; only this one is counted),
    // batched on this thread alone, and one stream at a time.
    for (const auto& [batched, threads] : {std::pair{true, 0}, std::pair{true, 1}, std::pair{false, 1}}) {
        ForecasterOptions options;
        options.season = 6;
        options.batched = batched;
        options.threads = static_cast<std::size_t>(threads);
        options.chunk_streams = 5;
        options.max_pass_ticks = 64;
        StreamForecaster forecaster(model, ids, options);
        double sum = 0.0;
        const auto add = [&](const Forecast& f) { sum += f.q50[0]; };
        forecaster.process(warm_up, add);  // every stream takes its slot here
        REQUIRE(forecaster.stats().streams_live == kStreams);

        const auto before = armed_allocator_calls();
        {
            const ArmAllocationHooks armed;
            for (std::size_t at = 0; at < measured.size(); at += 100) {
                forecaster.process(measured.subspan(at, std::min<std::size_t>(100, measured.size() - at)), add);
            }
        }
        INFO((batched ? "batched" : "one at a time") << ", threads " << threads
             << ": allocator calls while forecasting "
             << measured.size() << " ticks");
        CHECK(armed_allocator_calls() == before);
        CHECK(forecaster.stats().ticks == ticks.size());  // and it did the work
        CHECK(std::isfinite(sum));
    }

    // The count can fail: a refused stream's message allocates (once per stream, off the
    // per-tick path).
    ForecasterOptions options;
    options.threads = 1;
    options.max_streams = kStreams - 1;
    StreamForecaster forecaster(model, ids, options);
    const auto ignore = [](const Forecast&) {};
    forecaster.process(warm_up.first(kStreams - 1), ignore);
    const auto before = armed_allocator_calls();
    {
        const ArmAllocationHooks armed;
        forecaster.process(measured.first(2 * kStreams), ignore);
    }
    CHECK(armed_allocator_calls() > before);
    CHECK(forecaster.stats().refused > 0);
}
