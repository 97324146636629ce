// The linked enhancer (engine/linked_enhancer.hpp; one channel of it is EnhancerStage, which the
// golden fixture holds to the reference): what linking means for two channels, snapshots of a
// two-channel stream, and settings that change while it runs.

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "engine/linked_enhancer.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"
#include "tests/support/enhancer_fixture_model.hpp"
#include "tests/plugins/plugin_signals.hpp"

using namespace statestream;
using engine::EnhancerSettings;
using engine::LinkedEnhancer;

namespace {

const models::SsmModel& fixture_model() { return test::enhancer_fixture_model(); }

// Noise whose level moves by 30 dB every 50 ms, so the model's gains keep changing.
std::vector<float> varying_noise(std::size_t frames, std::uint32_t seed) {
    std::vector<float> samples = test::white_noise(frames, 1.0f, seed);
    for (std::size_t i = 0; i < frames; ++i) samples[i] *= (i / 2400) % 2 == 0 ? 0.3f : 0.01f;
    return samples;
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

TEST_CASE("A two-channel linked stream restored from a snapshot continues exactly",
          "[engine][enhance]") {
    const std::vector<std::vector<float>> first = {varying_noise(24000, 3), varying_noise(24000, 4)};
    const std::vector<std::vector<float>> second = {varying_noise(24000, 5), varying_noise(24000, 6)};
    LinkedEnhancer original(fixture_model(), 2);
    (void)run_linked(original, first);
    std::vector<float> snapshot(original.state_floats());
    original.save_state(snapshot);
    const auto continued = run_linked(original, second);

    LinkedEnhancer restored(fixture_model(), 2);
    restored.restore_state(snapshot);
    CHECK(run_linked(restored, second) == continued);
    restored.reset();
    CHECK(run_linked(restored, second) != continued);
}

TEST_CASE("Linked channels share their gains: the stereo image does not move", "[engine][enhance]") {
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

TEST_CASE("Settings changed while running take effect from the next hop", "[engine][enhance]") {
    const std::vector<float> input = varying_noise(48000, 9);
    constexpr std::size_t kSwitchHop = 40;
    const EnhancerSettings after{0.5f, 6.0f};
    LinkedEnhancer live(fixture_model(), 1);
    const auto output = run_linked(live, {input}, [&](std::size_t hop) {
        if (hop == kSwitchHop) {
            live.set_strength(after.strength);
            live.set_gain_floor(engine::gain_floor_of(after));
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
          "[engine][enhance]") {
    const std::vector<float> input = varying_noise(24000, 11);
    LinkedEnhancer linked(fixture_model(), 1, EnhancerSettings{0.0f, 0.0f});
    const auto output = run_linked(linked, {input}).front();
    const std::size_t delay = linked.latency_samples();
    REQUIRE(delay == 480);
    CHECK(test::max_difference(std::span<const float>(output).subspan(delay),
                               std::span<const float>(input).first(input.size() - delay)) <=
          1e-5 * test::max_abs(input));
}

TEST_CASE("Linked blocks: one forward() per block equals a step() per hop, two channels, in place",
          "[engine][enhance]") {
    // 7 hops per block, 5 of them in the last call: a short block must work as a full one does.
    constexpr std::size_t kBlockHops = 7;
    const EnhancerSettings settings{0.8f, 12.0f};
    const std::vector<std::vector<float>> input = {varying_noise(480 * 33, 13), varying_noise(480 * 33, 14)};
    LinkedEnhancer stepped(fixture_model(), 2, settings);
    const auto want = run_linked(stepped, input);

    LinkedEnhancer blocked(fixture_model(), 2, settings, kBlockHops);
    REQUIRE(blocked.block_hops() == kBlockHops);
    std::vector<std::vector<float>> got = input;  // processed in place
    const std::size_t hop = blocked.hop_samples();
    for (std::size_t at = 0; at < got.front().size();) {
        const std::size_t hops = std::min(kBlockHops, (got.front().size() - at) / hop);
        const float* in[] = {got[0].data() + at, got[1].data() + at};
        float* out[] = {got[0].data() + at, got[1].data() + at};
        blocked.process_block(in, out, hops);
        at += hops * hop;
    }
    for (std::size_t c = 0; c < 2; ++c) {
        const double difference = test::max_difference(got[c], want[c]);
        INFO("channel " << c << ": max |block - hop by hop| " << difference << ", peak " << test::max_abs(want[c]));
        REQUIRE(test::max_abs(want[c]) > 0.01);
        CHECK(difference <= 1e-5 * test::max_abs(want[c]));
    }
    // The gains of the block's last hop are the last hop's, and the states agree.
    REQUIRE(blocked.last_band_gains().size() == stepped.last_band_gains().size());
    for (std::size_t b = 0; b < stepped.last_band_gains().size(); ++b) {
        CHECK(blocked.last_band_gains()[b] == Approx(stepped.last_band_gains()[b]).epsilon(1e-5));
    }
    std::vector<float> state_stepped(stepped.state_floats());
    std::vector<float> state_blocked(blocked.state_floats());
    REQUIRE(state_stepped.size() == state_blocked.size());
    stepped.save_state(state_stepped);
    blocked.save_state(state_blocked);
    CHECK(test::max_difference(state_blocked, state_stepped) <= 1e-5 * test::max_abs(state_stepped));
}
