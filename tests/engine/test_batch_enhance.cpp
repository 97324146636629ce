// The enhancer's chunked path (EnhancerStage with ModelCalls::kChunked, LinkedEnhancer's
// process_block) and engine/batch/enhance_task: the enhancer run with one forward() per block
// of hops gives what the hop-by-hop enhancer gives (and so what the PyTorch reference gives),
// and a batch writes, for a file, what `statestream enhance` writes.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <vector>


#include "engine/batch/batch_runner.hpp"
#include "engine/batch/enhance_task.hpp"
#include "engine/enhance_file.hpp"
#include "engine/io/audio_file.hpp"
#include "engine/stages/enhancer_stage.hpp"
#include "tests/support/enhancer_fixture_model.hpp"
#include "tests/support/fixture_file.hpp"
#include "tests/support/scratch_dir.hpp"

using namespace statestream;
using engine::batch::EnhanceTask;
using engine::batch::EnhanceTaskConfig;
using engine::batch::ModelCalls;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

const models::SsmModel& fixture_model() { return test::enhancer_fixture_model(); }

fs::path scratch(const char* name) { return statestream::test::fresh_scratch_dir("batch-enhance", name); }

std::vector<float> seeded_noise(std::size_t n, unsigned seed, float scale = 0.3f) {
    std::minstd_rand generator(seed);
    std::normal_distribution<float> normal(0.0f, scale);
    std::vector<float> x(n);
    for (float& v : x) v = normal(generator);
    return x;
}

std::vector<float> run(engine::Stage& stage, const std::vector<float>& input) {
    const std::size_t block = stage.input().block;
    std::vector<float> output(input.size() / block * block);
    for (std::size_t at = 0; at + block <= input.size(); at += block) {
        stage.process(std::span<const float>(input).subspan(at, block), std::span<float>(output).subspan(at, block));
    }
    return output;
}

void write_wav(const fs::path& path, std::uint32_t rate, std::uint32_t channels, const std::vector<float>& interleaved) {
    fs::create_directories(path.parent_path());
    engine::AudioFileWriter writer(path, rate, channels, engine::AudioFileType::kWav);
    writer.write(interleaved);
    writer.commit();
}

struct Audio {
    engine::AudioFormat format;
    std::vector<float> samples;  // interleaved
};

Audio read_all(const fs::path& path) {
    engine::AudioFileReader reader(path);
    Audio audio{reader.format(), {}};
    std::vector<float> block(4096 * audio.format.channels);
    while (const std::size_t got = reader.read_frames(block)) {
        audio.samples.insert(audio.samples.end(), block.begin(), block.begin() + static_cast<std::ptrdiff_t>(got * audio.format.channels));
    }
    return audio;
}

}  // namespace

TEST_CASE("Chunked enhancer: one forward() per block computes what the reference's enhance() computes",
          "[engine][batch][enhance]") {
    const test::FixtureFile io(fs::path(STATESTREAM_DATA_DIR) / "fixtures" / "enhancer_fixture.io.safetensors");
    const std::vector<float> input = io.floats("input");
    const std::vector<double> expected = io.doubles("output");
    // 7 hops: not a divisor of anything nearby
    engine::EnhancerStage stage(fixture_model(), {}, 7, ModelCalls::kChunked);
    const std::vector<float> output = run(stage, input);
    REQUIRE(output.size() > input.size() / 2);
    double worst = 0.0;
    double peak = 0.0;
    for (std::size_t i = 0; i < output.size(); ++i) {
        worst = std::max(worst, std::abs(output[i] - expected[i]));
        peak = std::max(peak, std::abs(expected[i]));
    }
    INFO("max |chunked C++ - reference| = " << worst << " over " << output.size() << " samples, peak " << peak);
    CHECK(worst < 1e-4 * peak);
}

TEST_CASE("Chunked enhancer: equals the hop-by-hop enhancer stage up to float rounding",
          "[engine][batch][enhance]") {
    engine::EnhancerSettings settings;
    settings.strength = 0.7f;
    settings.attenuation_limit_db = 9.0f;
    const std::size_t hops = 13;
    const std::vector<float> input = seeded_noise(480 * hops * 11, 5);
    engine::EnhancerStage stepped(fixture_model(), settings, hops);
    engine::EnhancerStage chunked(fixture_model(), settings, hops, ModelCalls::kChunked);
    CHECK(chunked.latency_seconds() == stepped.latency_seconds());
    CHECK(chunked.input().block == stepped.input().block);
    const std::vector<float> a = run(stepped, input);
    const std::vector<float> b = run(chunked, input);
    const double error = test::relative_error(b, a);
    INFO("max relative difference " << error);
    CHECK(error < 1e-5);

    // The state after the same audio is the same, so a snapshot moves between the two.
    std::vector<float> state_a(stepped.state_floats());
    std::vector<float> state_b(chunked.state_floats());
    REQUIRE(state_a.size() == state_b.size());
    stepped.save_state(state_a);
    chunked.save_state(state_b);
    CHECK(test::relative_error(state_b, state_a) < 1e-5);
}

TEST_CASE("Batch enhance: a file comes out as `statestream enhance` writes it, chunked or step by step",
          "[engine][batch][enhance]") {
    const fs::path dir = scratch("file");
    // Rates with one hop per block (16 kHz), two (22.05 kHz) and the model's own; odd lengths.
    struct Case {
        std::uint32_t rate;
        std::uint32_t channels;
        double seconds;
    };
    for (const Case c : {Case{16000, 2, 1.37}, Case{22050, 1, 0.91}, Case{48000, 1, 2.03}}) {
        const std::size_t frames = static_cast<std::size_t>(c.seconds * c.rate) + 7;
        const fs::path in = dir / (std::string("in-") + std::to_string(c.rate) + ".wav");
        write_wav(in, c.rate, c.channels, seeded_noise(frames * c.channels, c.rate, 0.2f));
        const fs::path reference = dir / (std::string("reference-") + std::to_string(c.rate) + ".wav");
        (void)engine::enhance_file(fixture_model(), in, reference, {});
        const Audio want = read_all(reference);

        for (const ModelCalls calls : {ModelCalls::kChunked, ModelCalls::kStepByStep}) {
            EnhanceTaskConfig config;
            config.calls = calls;
            const EnhanceTask task(fixture_model(), config);
            const fs::path out = dir / (std::string("out-") + std::to_string(c.rate) + ".wav");
            const std::atomic<bool> stop{false};
            const auto outcome = task.process(in, out, stop);
            const Audio got = read_all(out);
            INFO(c.rate << " Hz, " << c.channels << " channel(s), "
                        << (calls == ModelCalls::kChunked ? "chunked" : "step by step"));
            CHECK(outcome.audio_seconds == Approx(static_cast<double>(frames) / c.rate));
            CHECK(got.format.rate_hz == c.rate);
            CHECK(got.format.channels == c.channels);
            REQUIRE(got.samples.size() == want.samples.size());
            const double error = test::relative_error(got.samples, want.samples);
            INFO("max relative difference from enhance_file " << error);
            CHECK(error < 1e-5);
            CHECK_FALSE(fs::exists(engine::batch::partial_path_of(out)));
        }
    }
    fs::remove_all(dir);
}

TEST_CASE("Batch enhance: a non-finite sample fails the file, by name; a stop abandons it",
          "[engine][batch][enhance]") {
    const fs::path dir = scratch("bad");
    std::vector<float> samples = seeded_noise(48000, 3);
    samples[30000] = std::numeric_limits<float>::quiet_NaN();
    write_wav(dir / "in" / "nan.wav", 48000, 1, samples);
    write_wav(dir / "in" / "good.wav", 48000, 1, seeded_noise(48000, 4));
    const EnhanceTask task(fixture_model(), {});
    const std::vector<engine::batch::BatchItem> items = {
        {fs::absolute(dir / "in" / "good.wav"), "good.wav", 192044},
        {fs::absolute(dir / "in" / "nan.wav"), "nan.wav", 192044}};
    std::atomic<bool> stop{false};
    const auto result = engine::batch::run_batch(task, items, dir / "out", {1, false, 0.01}, stop);
    CHECK(result.files[0].status == engine::batch::FileStatus::kDone);
    REQUIRE(result.files[1].status == engine::batch::FileStatus::kFailed);
    CHECK_THAT(result.files[1].error, Contains("nan.wav") && Contains("sample 30000") && Contains("NaN"));
    CHECK_FALSE(fs::exists(dir / "out" / "nan.wav"));
    CHECK_FALSE(fs::exists(dir / "out" / "nan.wav.partial"));

    stop.store(true);
    CHECK_THROWS_AS(task.process(dir / "in" / "good.wav", dir / "out" / "again.wav", stop),
                    engine::batch::BatchInterrupted);
    CHECK_FALSE(fs::exists(dir / "out" / "again.wav"));
    fs::remove_all(dir);
}
