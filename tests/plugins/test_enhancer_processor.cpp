// The plugin's processing between host buffers and the chain: any frame count, the latency it
// reports, sanitised input, bypass, and a reset that starts the stream afresh.

#include <catch2/catch.hpp>

#include <filesystem>
#include <limits>
#include <random>
#include <vector>

#include "models/model_file.hpp"
#include "models/ssm_model.hpp"
#include "tests/support/enhancer_fixture_model.hpp"
#include "plugins/lv2/enhancer_processor.hpp"
#include "tests/plugins/plugin_signals.hpp"

using namespace statestream;
using plugins::EnhancerProcessor;
using plugins::PluginControls;

namespace {

const models::SsmModel& fixture_model() { return test::enhancer_fixture_model(); }

// One channel through process() in pieces whose sizes cycle through `pieces`.
std::vector<float> run(EnhancerProcessor& processor, const std::vector<float>& input,
                       std::span<const std::size_t> pieces) {
    std::vector<float> output(input.size());
    for (std::size_t at = 0, i = 0; at < input.size(); ++i) {
        const std::size_t frames = std::min(pieces[i % pieces.size()], input.size() - at);
        const float* in = input.data() + at;
        float* out = output.data() + at;
        processor.process(std::span<const float* const>(&in, 1), std::span<float* const>(&out, 1), frames);
        at += frames;
    }
    return output;
}

std::vector<float> run(EnhancerProcessor& processor, const std::vector<float>& input, std::size_t piece) {
    return run(processor, input, std::span<const std::size_t>(&piece, 1));
}

std::size_t impulse_delay(EnhancerProcessor& processor, std::uint32_t rate) {
    std::vector<float> input = test::white_noise(rate, 1e-4f, 51);
    const std::size_t impulse_at = rate / 3;
    std::fill(input.begin() + static_cast<std::ptrdiff_t>(impulse_at), input.end(), 0.0f);
    input[impulse_at] = 1.0f;
    const std::vector<float> output = run(processor, input, 100);
    std::size_t peak = impulse_at;
    for (std::size_t i = impulse_at; i < output.size(); ++i) {
        if (std::abs(output[i]) > std::abs(output[peak])) peak = i;
    }
    return peak - impulse_at;
}

}  // namespace

TEST_CASE("Any frame count gives the same output, 1 and counts that are no multiple of the hop "
          "included", "[plugins][enhance]") {
    for (const std::uint32_t rate : {44100u, 48000u, 96000u}) {
        CAPTURE(rate);
        const std::vector<float> input = test::white_noise(rate / 2, 0.1f, 61);
        EnhancerProcessor whole(fixture_model(), rate, 1);
        const std::vector<float> expected = run(whole, input, 4096);
        EnhancerProcessor single(fixture_model(), rate, 1);
        CHECK(run(single, input, 1) == expected);
        EnhancerProcessor odd(fixture_model(), rate, 1);
        const std::size_t pieces[] = {7, 1, 480, 0, 1023, 333, 4801};
        CHECK(run(odd, input, pieces) == expected);
        REQUIRE(test::max_abs(expected) > 0.01);
    }
}

TEST_CASE("The reported latency is where an impulse comes out: the chain's delay plus one block",
          "[plugins][enhance]") {
    for (const std::uint32_t rate : {16000u, 44100u, 48000u, 88200u, 96000u}) {
        CAPTURE(rate);
        EnhancerProcessor processor(fixture_model(), rate, 1);
        CHECK(processor.latency_samples() == processor.chain().delay_samples() + processor.block_samples());
        CHECK(impulse_delay(processor, rate) == processor.latency_samples());
    }
    EnhancerProcessor at_48k(fixture_model(), 48000, 1);
    CHECK(at_48k.latency_samples() == 960);  // 480 of overlap-add + one 480-sample block
}

TEST_CASE("NaN and infinite input is replaced by silence and counted, never reaching the state",
          "[plugins][enhance]") {
    std::vector<float> clean = test::white_noise(48000, 0.1f, 71);
    std::vector<float> faulty = clean;
    for (std::size_t i = 10000; i < 10100; ++i) {
        faulty[i] = std::numeric_limits<float>::quiet_NaN();
        clean[i] = 0.0f;
    }
    faulty[20000] = std::numeric_limits<float>::infinity();
    faulty[20001] = -std::numeric_limits<float>::infinity();
    clean[20000] = clean[20001] = 0.0f;
    faulty[30000] = 1e30f;  // finite but absurd: clamped to the limit
    clean[30000] = plugins::kSampleLimit;

    EnhancerProcessor processor(fixture_model(), 48000, 1);
    const std::vector<float> output = run(processor, faulty, 256);
    for (float x : output) REQUIRE(std::isfinite(x));
    CHECK(processor.sanitised_samples() == 103);
    EnhancerProcessor reference(fixture_model(), 48000, 1);
    CHECK(run(reference, clean, 256) == output);
}

TEST_CASE("Bypass gives the input back with the same latency, and the enhancer resumes where it "
          "would have been", "[plugins][enhance]") {
    const std::vector<float> input = test::white_noise(48000, 0.1f, 81);
    EnhancerProcessor enhanced(fixture_model(), 48000, 1);
    const std::vector<float> always = run(enhanced, input, 480);

    EnhancerProcessor toggled(fixture_model(), 48000, 1);
    const std::size_t latency = toggled.latency_samples();
    const std::size_t block = toggled.block_samples();
    std::vector<float> output(input.size());
    constexpr std::size_t kOffBlock = 20;
    constexpr std::size_t kOnBlock = 60;
    for (std::size_t b = 0; (b + 1) * block <= input.size(); ++b) {
        toggled.set_controls(PluginControls{1.0f, plugins::kNoAttenuationLimitDb, b < kOffBlock || b >= kOnBlock});
        const float* in = input.data() + b * block;
        float* out = output.data() + b * block;
        toggled.process(std::span<const float* const>(&in, 1), std::span<float* const>(&out, 1), block);
    }
    // A control read in run() takes effect with the block processed at the end of that run,
    // which plays during the next one; the crossfade lasts that block.
    const std::size_t bypassed_from = (kOffBlock + 2) * block;
    const std::size_t bypassed_to = (kOnBlock + 1) * block;
    for (std::size_t i = bypassed_from; i < bypassed_to; ++i) {
        REQUIRE(output[i] == input[i - latency]);
    }
    const std::size_t resumed_from = (kOnBlock + 2) * block;
    CHECK(test::max_difference(std::span<const float>(output).subspan(resumed_from),
                               std::span<const float>(always).subspan(resumed_from)) == 0.0);
}

TEST_CASE("reset() starts a fresh stream", "[plugins][enhance]") {
    const std::vector<float> first = test::white_noise(24000, 0.1f, 91);
    const std::vector<float> second = test::white_noise(24000, 0.1f, 92);
    EnhancerProcessor reused(fixture_model(), 44100, 2);
    std::vector<float> scratch(first.size());
    {
        const float* in[] = {first.data(), first.data()};
        float* out[] = {scratch.data(), scratch.data()};
        reused.process(in, out, first.size() - 17);
    }
    reused.reset();
    EnhancerProcessor fresh(fixture_model(), 44100, 2);
    std::vector<float> a(second.size()), b(second.size()), c(second.size()), d(second.size());
    const float* in[] = {second.data(), second.data()};
    float* out_reused[] = {a.data(), b.data()};
    float* out_fresh[] = {c.data(), d.data()};
    reused.process(in, out_reused, second.size());
    fresh.process(in, out_fresh, second.size());
    CHECK(a == c);
    CHECK(b == d);
    CHECK(reused.sanitised_samples() == 0);
}
