// The enhancer in C++ against the PyTorch reference's golden fixture (a small random enhancer:
// data/fixtures/enhancer_fixture*.safetensors, models/train/enhance/make_enhancer_fixture.py),
// the user's settings, the impulse-measured latency at several rates, and stream snapshots.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <vector>

#include "engine/enhancer_chain.hpp"
#include "engine/stages/enhancer_stage.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"
#include "tests/support/enhancer_fixture_model.hpp"
#include "tests/support/fixture_file.hpp"

using namespace statestream;
using engine::EnhancerChainConfig;
using engine::EnhancerSettings;
using engine::EnhancerStage;
using Catch::Matchers::Contains;

namespace {

const models::SsmModel& fixture_model() { return test::enhancer_fixture_model(); }

const std::filesystem::path kData(STATESTREAM_DATA_DIR);

std::vector<float> run_stage(EnhancerStage& stage, const std::vector<float>& input,
                             std::vector<float>* gains = nullptr) {
    const std::size_t block = stage.input().block;
    std::vector<float> output(input.size());
    for (std::size_t at = 0; at + block <= input.size(); at += block) {
        stage.process(std::span<const float>(input).subspan(at, block),
                      std::span<float>(output).subspan(at, block));
        if (gains != nullptr) {
            gains->insert(gains->end(), stage.last_band_gains().begin(), stage.last_band_gains().end());
        }
    }
    return output;
}

double max_abs(const std::vector<float>& v) {
    double m = 0.0;
    for (float x : v) m = std::max(m, static_cast<double>(std::abs(x)));
    return m;
}

}  // namespace

TEST_CASE("The enhancer stage computes what the reference's enhance() computes",
          "[engine][enhance]") {
    const test::FixtureFile io(kData / "fixtures" / "enhancer_fixture.io.safetensors");
    const std::vector<float> input = io.floats("input");
    const std::vector<double> expected = io.doubles("output");
    const std::vector<double> expected_gains = io.doubles("gains");
    EnhancerStage stage(fixture_model(), EnhancerSettings{});
    std::vector<float> gains;
    const std::vector<float> output = run_stage(stage, input, &gains);

    REQUIRE(gains.size() == expected_gains.size());
    double worst_gain = 0.0;
    for (std::size_t i = 0; i < gains.size(); ++i) {
        worst_gain = std::max(worst_gain, std::abs(gains[i] - expected_gains[i]));
    }
    // The fixture's gains really vary, so a wrong band order or log would show.
    const auto [lo, hi] = std::minmax_element(expected_gains.begin(), expected_gains.end());
    CHECK(*hi - *lo > 0.5);
    CHECK(worst_gain < 1e-4);

    double worst = 0.0;
    double peak = 0.0;
    for (std::size_t i = 0; i < output.size(); ++i) {
        worst = std::max(worst, std::abs(output[i] - expected[i]));
        peak = std::max(peak, std::abs(expected[i]));
    }
    INFO("max |C++ - reference| = " << worst << ", reference peak " << peak);
    CHECK(worst < 1e-4 * peak);
}

TEST_CASE("Strength 0 passes the input through, delayed by the chain's latency",
          "[engine][enhance]") {
    EnhancerSettings settings;
    settings.strength = 0.0f;
    EnhancerStage stage(fixture_model(), settings);
    const std::size_t delay = 480;
    REQUIRE(stage.latency_seconds() == Approx(delay / 48000.0));
    std::vector<float> input(48000);
    std::minstd_rand generator(3);
    std::uniform_real_distribution<float> uniform(-0.5f, 0.5f);
    for (float& x : input) x = uniform(generator);
    const std::vector<float> output = run_stage(stage, input);
    double worst = 0.0;
    for (std::size_t i = delay; i < output.size(); ++i) {
        worst = std::max(worst, static_cast<double>(std::abs(output[i] - input[i - delay])));
    }
    CHECK(worst < 1e-5);
}

TEST_CASE("Strength and the attenuation limit shape the model's gains as documented",
          "[engine][enhance]") {
    const test::FixtureFile io(kData / "fixtures" / "enhancer_fixture.io.safetensors");
    const std::vector<float> input = io.floats("input");
    const std::vector<double> model_gains = io.doubles("gains");

    EnhancerSettings half;
    half.strength = 0.5f;
    EnhancerStage halfway(fixture_model(), half);
    std::vector<float> gains;
    (void)run_stage(halfway, input, &gains);
    REQUIRE(gains.size() == model_gains.size());
    double worst = 0.0;
    for (std::size_t i = 0; i < gains.size(); ++i) {
        worst = std::max(worst, std::abs(gains[i] - (1.0 - 0.5 * (1.0 - model_gains[i]))));
    }
    CHECK(worst < 1e-4);

    EnhancerSettings limited;
    limited.attenuation_limit_db = 6.0f;
    EnhancerStage floored(fixture_model(), limited);
    gains.clear();
    (void)run_stage(floored, input, &gains);
    const float floor = std::pow(10.0f, -6.0f / 20.0f);
    CHECK(*std::min_element(gains.begin(), gains.end()) == Approx(floor));
    std::size_t unchanged = 0;
    for (std::size_t i = 0; i < gains.size(); ++i) {
        if (model_gains[i] > floor + 1e-4) unchanged += std::abs(gains[i] - model_gains[i]) < 1e-4;
        else if (model_gains[i] < floor - 1e-4) CHECK(gains[i] == Approx(floor));
    }
    CHECK(unchanged > 0);
}

TEST_CASE("Settings and models outside the enhancer's range are refused by name",
          "[engine][enhance]") {
    EnhancerSettings settings;
    settings.strength = 1.5f;
    CHECK_THROWS_WITH(engine::validate(settings), Contains("strength 1.5 is outside 0..1"));
    const auto tiny = models::ModelFile::load(kData / "models" / "tiny_mamba2.safetensors");
    const models::SsmModel tiny_model(tiny);
    CHECK_THROWS_WITH(engine::require_enhancer_model(tiny_model),
                      Contains("tiny_mamba2.safetensors") && Contains("not an enhancer"));
    EnhancerChainConfig config;
    config.rate_hz = 4000;
    CHECK_THROWS_WITH(engine::make_enhancer_chain(fixture_model(), config),
                      Contains("4000 Hz is outside"));
}

TEST_CASE("An impulse through the whole chain comes out where the stages say, at every rate",
          "[engine][enhance][latency]") {
    for (const std::uint32_t rate : {48000u, 16000u, 44100u, 8000u}) {
        EnhancerChainConfig config;
        config.rate_hz = rate;
        const engine::MeasuredDelay delay = engine::measure_impulse_delay(fixture_model(), config);
        INFO(rate << " Hz: measured " << delay.samples << " samples, stages claim "
                  << delay.stages_seconds * rate);
        CHECK(std::abs(static_cast<double>(delay.samples) - delay.stages_seconds * rate) <= 1.0);
        if (rate == 48000) CHECK(delay.samples == 480);  // N - H: 10 ms
    }
}

TEST_CASE("A 22.05 kHz chain runs in 20 ms blocks and gives its input back at strength 0",
          "[engine][enhance]") {
    EnhancerChainConfig config;
    config.rate_hz = 22050;  // one 10 ms hop would be 220.5 samples
    config.settings.strength = 0.0f;
    const auto chain = engine::make_enhancer_chain(fixture_model(), config);
    REQUIRE(chain->input().block == 441);
    const std::size_t delay = engine::measure_impulse_delay(fixture_model(), config).samples;
    std::vector<float> input(22050);
    for (std::size_t i = 0; i < input.size(); ++i) {
        input[i] = 0.3f * static_cast<float>(std::sin(2.0 * 3.14159265358979 * 440.0 * i / 22050.0));
    }
    std::vector<float> output(input.size());
    for (std::size_t at = 0; at + 441 <= input.size(); at += 441) {
        chain->step(std::span<const float>(input).subspan(at, 441),
                    std::span<float>(output).subspan(at, 441));
    }
    double worst = 0.0;
    for (std::size_t i = 2205 + delay; i < 20000; ++i) {
        worst = std::max(worst, static_cast<double>(std::abs(output[i] - input[i - delay])));
    }
    // The resamplers' delay is not a whole number of samples at this rate: the output may sit
    // up to half a sample off, which for a sine of amplitude A at f is at most A 2 pi f 0.5 / rate.
    const double half_sample = max_abs(input) * 2.0 * 3.14159265358979 * 440.0 * 0.5 / 22050.0;
    CHECK(worst < 1.1 * half_sample + 1e-3);
}

TEST_CASE("An enhancer stream restored from a snapshot continues exactly", "[engine][enhance]") {
    const test::FixtureFile io(kData / "fixtures" / "enhancer_fixture.io.safetensors");
    const std::vector<float> input = io.floats("input");
    const std::size_t half = input.size() / 2;
    EnhancerStage original(fixture_model(), EnhancerSettings{});
    const std::vector<float> first(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(half));
    const std::vector<float> second(input.begin() + static_cast<std::ptrdiff_t>(half), input.end());
    (void)run_stage(original, first);
    std::vector<float> snapshot(original.state_floats());
    original.save_state(snapshot);
    const std::vector<float> continued = run_stage(original, second);

    EnhancerStage restored(fixture_model(), EnhancerSettings{});
    restored.restore_state(snapshot);
    CHECK(run_stage(restored, second) == continued);
    restored.reset();
    CHECK(run_stage(restored, second) != continued);
}
