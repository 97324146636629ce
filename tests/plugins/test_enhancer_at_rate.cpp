// The enhancer at the host's rate: below the model's rate it is engine::make_enhancer_chain's
// composition (same block, same output, same measured delay); above it, the full-band split
// passes what the model cannot see and changes the rest as the engine's chain would.

#include <catch2/catch.hpp>

#include <filesystem>
#include <vector>

#include "engine/enhancer_chain.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"
#include "plugins/lv2/enhancer_at_rate.hpp"
#include "tests/plugins/plugin_signals.hpp"

using namespace statestream;
using plugins::EnhancerAtRate;
using plugins::RateMode;

namespace {

const std::filesystem::path kData(STATESTREAM_DATA_DIR);

struct LoadedModel {
    explicit LoadedModel(const std::filesystem::path& path) : file(models::ModelFile::load(path)), model(file) {}
    models::ModelFile file;
    models::SsmModel model;
};

const models::SsmModel& fixture_model() {
    static const LoadedModel loaded(kData / "fixtures" / "enhancer_fixture.safetensors");
    return loaded.model;
}

// The shipped model: it really takes white noise down, which the band-split test needs.
const models::SsmModel& shipped_model() {
    static const LoadedModel loaded(kData / "models" / "enhancer.safetensors");
    return loaded.model;
}

std::vector<float> run_at_rate(EnhancerAtRate& chain, const std::vector<float>& input) {
    const std::size_t block = chain.block_samples();
    std::vector<float> output(input.size(), 0.0f);
    for (std::size_t at = 0; at + block <= input.size(); at += block) {
        const float* in = input.data() + at;
        float* out = output.data() + at;
        chain.process_block(std::span<const float* const>(&in, 1), std::span<float* const>(&out, 1));
    }
    return output;
}

std::vector<float> run_engine_chain(engine::Pipeline& chain, const std::vector<float>& input) {
    const std::size_t block = chain.input().block;
    std::vector<float> output(input.size(), 0.0f);
    for (std::size_t at = 0; at + block <= input.size(); at += block) {
        chain.step(std::span<const float>(input).subspan(at, block), std::span<float>(output).subspan(at, block));
    }
    return output;
}

}  // namespace

TEST_CASE("The plugin's block at every rate is the engine chain's block", "[plugins][enhance]") {
    for (const std::uint32_t rate : {8000u, 16000u, 22050u, 32000u, 44100u, 48000u, 64000u, 88200u,
                                     96000u, 176400u, 192000u}) {
        CAPTURE(rate);
        const EnhancerAtRate chain(fixture_model(), rate, 1);
        const auto engine_chain = engine::make_enhancer_chain(fixture_model(), {rate, {}});
        CHECK(chain.block_samples() == engine_chain->input().block);
        CHECK(chain.mode() == (rate == 48000 ? RateMode::kNative
                               : rate < 48000 ? RateMode::kResampled
                                              : RateMode::kBandSplit));
    }
    CHECK_THROWS_WITH(EnhancerAtRate(fixture_model(), 7999, 1), Catch::Matchers::Contains("outside"));
    CHECK_THROWS_WITH(EnhancerAtRate(fixture_model(), 48001, 1), Catch::Matchers::Contains("no block"));
}

TEST_CASE("At and below the model's rate the plugin's chain is the engine's, delay included",
          "[plugins][enhance]") {
    for (const std::uint32_t rate : {16000u, 22050u, 44100u, 48000u}) {
        CAPTURE(rate);
        const std::vector<float> input = test::white_noise(rate, 0.1f, 21);
        EnhancerAtRate chain(fixture_model(), rate, 1);
        const auto engine_chain = engine::make_enhancer_chain(fixture_model(), {rate, {}});
        const std::vector<float> output = run_at_rate(chain, input);
        const std::vector<float> expected = run_engine_chain(*engine_chain, input);
        CHECK(test::max_difference(output, expected) <= 1e-6 * test::max_abs(expected));
        CHECK(chain.delay_samples() == engine::measure_impulse_delay(fixture_model(), {rate, {}}).samples);
    }
}

TEST_CASE("Above the model's rate the band split keeps the full band", "[plugins][enhance]") {
    for (const std::uint32_t rate : {88200u, 96000u}) {
        CAPTURE(rate);
        const std::vector<float> noise = test::white_noise(3 * rate, 0.1f, 31);
        EnhancerAtRate chain(shipped_model(), rate, 1);
        REQUIRE(chain.mode() == RateMode::kBandSplit);
        const std::vector<float> output = run_at_rate(chain, noise);
        const auto engine_chain = engine::make_enhancer_chain(shipped_model(), {rate, {}});
        const std::vector<float> engine_output = run_engine_chain(*engine_chain, noise);
        // Skip the first second (the model settling) and the delay.
        const std::size_t settle = rate;
        const auto settled = [&](const std::vector<float>& v) {
            return std::span<const float>(v).subspan(settle, v.size() - settle);
        };
        const double input_low = test::band_level_db(settled(noise), rate, 1000.0, 20000.0);
        const double output_low = test::band_level_db(settled(output), rate, 1000.0, 20000.0);
        const double engine_low = test::band_level_db(settled(engine_output), rate, 1000.0, 20000.0);
        const double input_high = test::band_level_db(settled(noise), rate, 26000.0, 40000.0);
        const double output_high = test::band_level_db(settled(output), rate, 26000.0, 40000.0);
        const double engine_high = test::band_level_db(settled(engine_output), rate, 26000.0, 40000.0);
        INFO("1-20 kHz: input " << input_low << " dB, band split " << output_low << " dB, engine chain "
             << engine_low << " dB; 26-40 kHz: input " << input_high << " dB, band split " << output_high
             << " dB, engine chain " << engine_high << " dB; pad " << chain.pad_samples());
        // Below 20 kHz the model's change lines up with the delayed input: white noise goes down
        // as far as through the engine's chain (a path off by a fraction of a sample would leave
        // much of it, most at the top of the band).
        REQUIRE(engine_low < input_low - 6.0);
        CHECK(std::abs(output_low - engine_low) < 1.0);
        // Above 24 kHz the input passes as it came; the engine's chain (resampled through
        // 48 kHz) has nothing there.
        CHECK(std::abs(output_high - input_high) < 0.2);
        CHECK(engine_high < input_high - 40.0);
    }
}

TEST_CASE("The band split at strength 0 gives its input back exactly, delayed by delay_samples()",
          "[plugins][enhance]") {
    for (const std::uint32_t rate : {88200u, 96000u, 192000u}) {
        CAPTURE(rate);
        const std::vector<float> input = test::white_noise(rate / 2, 0.1f, 41);
        EnhancerAtRate chain(fixture_model(), rate, 1);
        chain.enhancer().set_strength(0.0f);
        const std::vector<float> output = run_at_rate(chain, input);
        const std::size_t delay = chain.delay_samples();
        CHECK(test::max_difference(std::span<const float>(output).subspan(delay),
                                   std::span<const float>(input).first(input.size() - delay)) <= 1e-5);
    }
}
