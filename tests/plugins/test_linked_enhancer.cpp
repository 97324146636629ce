// The plugin's linked enhancer against the engine's EnhancerStage (one channel is the same hop),
// what linking means for two channels, and settings that change while it runs.

#include <catch2/catch.hpp>

#include <filesystem>
#include <vector>

#include "engine/stages/enhancer_stage.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"
#include "plugins/lv2/linked_enhancer.hpp"
#include "tests/plugins/plugin_signals.hpp"

using namespace statestream;
using engine::EnhancerSettings;
using plugins::LinkedEnhancer;

namespace {

const std::filesystem::path kData(STATESTREAM_DATA_DIR);

// A small random enhancer (the golden fixture's): its gains vary widely, so a wrong operation
// shows, and it is quick under the sanitizers.
struct FixtureModel {
    models::ModelFile file = models::ModelFile::load(kData / "fixtures" / "enhancer_fixture.safetensors");
    models::SsmModel model{file};
};

const models::SsmModel& fixture_model() {
    static const FixtureModel loaded;
    return loaded.model;
}

// Noise whose level moves by 30 dB every 50 ms, so the model's gains keep changing.
std::vector<float> varying_noise(std::size_t frames, std::uint32_t seed) {
    std::vector<float> samples = test::white_noise(frames, 1.0f, seed);
    for (std::size_t i = 0; i < frames; ++i) samples[i] *= (i / 2400) % 2 == 0 ? 0.3f : 0.01f;
    return samples;
}

std::vector<float> run_stage(engine::EnhancerStage& stage, const std::vector<float>& input) {
    const std::size_t hop = stage.input().block;
    std::vector<float> output(input.size());
    for (std::size_t at = 0; at + hop <= input.size(); at += hop) {
        stage.process(std::span<const float>(input).subspan(at, hop), std::span<float>(output).subspan(at, hop));
    }
    return output;
}

// Every channel through the linked enhancer, hop by hop; `before_hop` may change settings.
template <typename BeforeHop>
std::vector<std::vector<float>> run_linked(LinkedEnhancer& enhancer,
                                           const std::vector<std::vector<float>>& input,
                                           BeforeHop before_hop) {
    const std::size_t hop = enhancer.hop_samples();
    std::vector<std::vector<float>> output(input.size(), std::vector<float>(input.front().size()));
    std::vector<const float*> in(input.size());
    std::vector<float*> out(input.size());
    for (std::size_t at = 0, index = 0; at + hop <= input.front().size(); at += hop, ++index) {
        before_hop(index);
        for (std::size_t c = 0; c < input.size(); ++c) {
            in[c] = input[c].data() + at;
            out[c] = output[c].data() + at;
        }
        enhancer.process_hop(in, out);
    }
    return output;
}

std::vector<std::vector<float>> run_linked(LinkedEnhancer& enhancer,
                                           const std::vector<std::vector<float>>& input) {
    return run_linked(enhancer, input, [](std::size_t) {});
}

}  // namespace

TEST_CASE("One channel of the linked enhancer computes what the engine's EnhancerStage computes",
          "[plugins][enhance]") {
    const std::vector<float> input = varying_noise(48000, 3);
    for (const EnhancerSettings settings : {EnhancerSettings{1.0f, 0.0f}, EnhancerSettings{0.4f, 0.0f},
                                            EnhancerSettings{1.0f, 12.0f}}) {
        CAPTURE(settings.strength, settings.attenuation_limit_db);
        engine::EnhancerStage stage(fixture_model(), settings);
        LinkedEnhancer linked(fixture_model(), 1, settings);
        const std::vector<float> expected = run_stage(stage, input);
        const std::vector<float> output = run_linked(linked, {input}).front();
        // The model really changes this input, so a wrong operation would show.
        REQUIRE(test::max_difference(expected, input) > 0.1 * test::max_abs(input));
        CHECK(test::max_difference(output, expected) <= 1e-6 * test::max_abs(expected));
        const auto stage_gains = stage.last_band_gains();
        const auto linked_gains = linked.last_band_gains();
        REQUIRE(stage_gains.size() == linked_gains.size());
        for (std::size_t b = 0; b < stage_gains.size(); ++b) CHECK(linked_gains[b] == Approx(stage_gains[b]).margin(1e-6));
    }
}

TEST_CASE("Linked channels share their gains: the stereo image does not move", "[plugins][enhance]") {
    const std::vector<float> left = varying_noise(48000, 5);
    SECTION("a side at half the level comes out at exactly half the level") {
        std::vector<float> right(left.size());
        for (std::size_t i = 0; i < left.size(); ++i) right[i] = 0.5f * left[i];
        LinkedEnhancer linked(fixture_model(), 2);
        const auto output = run_linked(linked, {left, right});
        // Unlinked, the quieter side would get different gains (the model is not level-invariant).
        std::vector<float> half_left(left.size());
        for (std::size_t i = 0; i < left.size(); ++i) half_left[i] = 0.5f * output[0][i];
        REQUIRE(test::max_abs(output[1]) > 0.01);
        CHECK(test::max_difference(output[1], half_left) <= 1e-6 * test::max_abs(output[1]));
        LinkedEnhancer mono(fixture_model(), 1);
        const auto right_alone = run_linked(mono, {right}).front();
        CHECK(test::max_difference(output[1], right_alone) > 1e-3 * test::max_abs(right_alone));
    }
    SECTION("two equal sides are each what one channel gives") {
        LinkedEnhancer stereo(fixture_model(), 2);
        LinkedEnhancer mono(fixture_model(), 1);
        const auto both = run_linked(stereo, {left, left});
        const auto one = run_linked(mono, {left}).front();
        CHECK(test::max_difference(both[0], one) <= 1e-6 * test::max_abs(one));
        CHECK(test::max_difference(both[1], one) <= 1e-6 * test::max_abs(one));
    }
}

TEST_CASE("Settings changed while running take effect from the next hop", "[plugins][enhance]") {
    const std::vector<float> input = varying_noise(48000, 9);
    constexpr std::size_t kSwitchHop = 40;
    const EnhancerSettings after{0.5f, 6.0f};
    LinkedEnhancer live(fixture_model(), 1);
    const auto output = run_linked(live, {input}, [&](std::size_t hop) {
        if (hop == kSwitchHop) {
            live.set_strength(after.strength);
            live.set_gain_floor(plugins::gain_floor_of(after));
        }
    }).front();
    // The model's state depends on the input only, so from the switch on the gains are those of
    // an enhancer that had the new settings all along; the output follows one hop later, once
    // the overlap-add tail of the last old frame has left.
    LinkedEnhancer fixed(fixture_model(), 1, after);
    const auto expected = run_linked(fixed, {input}).front();
    const std::size_t hop = live.hop_samples();
    const std::span<const float> late(output.data() + (kSwitchHop + 1) * hop, output.size() - (kSwitchHop + 1) * hop);
    const std::span<const float> late_expected(expected.data() + (kSwitchHop + 1) * hop, late.size());
    CHECK(test::max_difference(late, late_expected) <= 1e-6 * test::max_abs(late_expected));
    LinkedEnhancer unchanged(fixture_model(), 1);
    const auto before = run_linked(unchanged, {input}).front();
    CHECK(test::max_difference(std::span<const float>(output).first(kSwitchHop * hop),
                               std::span<const float>(before).first(kSwitchHop * hop)) == 0.0);
}

TEST_CASE("At strength 0 the linked enhancer gives its input back, delayed by N - H",
          "[plugins][enhance]") {
    const std::vector<float> input = varying_noise(24000, 11);
    LinkedEnhancer linked(fixture_model(), 1, EnhancerSettings{0.0f, 0.0f});
    const auto output = run_linked(linked, {input}).front();
    const std::size_t delay = linked.latency_samples();
    REQUIRE(delay == 480);
    CHECK(test::max_difference(std::span<const float>(output).subspan(delay),
                               std::span<const float>(input).first(input.size() - delay)) <=
          1e-5 * test::max_abs(input));
}
