// Pipelines: construction checks that stages fit, the summed latency is where an impulse lands,
// and a stream snapshot of every stage (resampler, log-mel, model) restores into a new pipeline
// that continues bit for bit; other pipelines and damaged snapshots are refused by name.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <vector>

#include "engine/pipeline.hpp"
#include "engine/stages/log_mel_stage.hpp"
#include "engine/stages/model_stage.hpp"
#include "engine/stages/resample_stage.hpp"
#include "engine/stream_snapshot.hpp"
#include "models/model_file.hpp"

using namespace statestream::engine;
using Catch::Matchers::Contains;

namespace {

const std::filesystem::path kTinyModel =
    std::filesystem::path(STATESTREAM_DATA_DIR) / "models" / "tiny_mamba2.safetensors";

template <typename... Stages>
Pipeline make_pipeline(std::unique_ptr<Stages>... stages) {
    std::vector<std::unique_ptr<Stage>> list;
    (list.push_back(std::move(stages)), ...);
    return Pipeline(std::move(list));
}

// 48 kHz audio -> 16 kHz -> 8 log-mel bands -> the tiny model (8 in, 4 out), 10 ms steps.
Pipeline tiny_speech_pipeline(const statestream::models::SsmModel& model) {
    return make_pipeline(std::make_unique<ResampleStage>(48000, 16000, 480),
                         std::make_unique<LogMelStage>(statestream::dsp::LogMelConfig{16000.0, 400, 160, 8}),
                         std::make_unique<ModelStage>(model, 100.0));
}

std::vector<float> noise(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.0f, 0.1f);
    std::vector<float> x(n);
    for (auto& v : x) v = normal(rng);
    return x;
}

std::vector<float> run(Pipeline& pipeline, const std::vector<float>& audio, std::size_t from_step,
                       std::size_t to_step) {
    const std::size_t in = pipeline.input().floats();
    std::vector<float> out(pipeline.output().floats());
    std::vector<float> all;
    for (std::size_t s = from_step; s < to_step; ++s) {
        pipeline.step(std::span<const float>(audio).subspan(s * in, in), out);
        all.insert(all.end(), out.begin(), out.end());
    }
    return all;
}

}  // namespace

TEST_CASE("A pipeline refuses stages that do not fit, naming both", "[engine][pipeline]") {
    REQUIRE_THROWS_WITH(make_pipeline(std::make_unique<ResampleStage>(48000, 16000, 480),
                                      std::make_unique<LogMelStage>(statestream::dsp::LogMelConfig{22050.0, 400, 160, 8})),
                        Contains("stage 1 (resample 48000->16000 Hz) does not feed stage 2") &&
                            Contains("emits at 16000 Hz, the next expects 22050 Hz"));
    REQUIRE_THROWS_WITH(make_pipeline(std::make_unique<ResampleStage>(48000, 16000, 960),
                                      std::make_unique<LogMelStage>(statestream::dsp::LogMelConfig{16000.0, 400, 160, 8})),
                        Contains("emits blocks of 320 vectors, the next takes 160"));
    const auto file = statestream::models::ModelFile::load(kTinyModel);
    const statestream::models::SsmModel model(file);
    REQUIRE_THROWS_WITH(make_pipeline(std::make_unique<LogMelStage>(statestream::dsp::LogMelConfig{16000.0, 400, 160, 40}),
                                      std::make_unique<ModelStage>(model, 100.0)),
                        Contains("emits vectors of 40 floats, the next takes 8"));
    REQUIRE_THROWS_WITH(ResampleStage(44100, 16000, 480), Contains("multiple of 441 samples"));
}

TEST_CASE("An impulse through a pipeline lands at its summed latency", "[engine][pipeline][latency]") {
    auto pipeline = make_pipeline(std::make_unique<ResampleStage>(48000, 16000, 480),
                                  std::make_unique<ResampleStage>(16000, 44100, 160),
                                  std::make_unique<ResampleStage>(44100, 48000, 441));
    std::vector<float> x(48000, 0.0f);
    const std::size_t impulse_at = 9600;  // on every rate's grid: 0.2 s
    x[impulse_at] = 1.0f;
    const auto y = run(pipeline, x, 0, x.size() / 480);
    std::size_t peak = 0;
    for (std::size_t i = 1; i < y.size(); ++i) {
        if (std::abs(y[i]) > std::abs(y[peak])) peak = i;
    }
    // 16 kHz -> 44.1 kHz delays by 129 samples at 44.1 kHz, which is not on the 48 kHz grid: the
    // band-limited impulse peaks at the sample nearest its true (fractional) delay.
    const double latency_samples = pipeline.latency_seconds() * 48000.0;
    INFO(pipeline.describe());
    CHECK(std::abs(double(peak - impulse_at) - latency_samples) <= 0.5);
}

TEST_CASE("A restored stream snapshot continues bit for bit", "[engine][pipeline][snapshot]") {
    const auto file = statestream::models::ModelFile::load(kTinyModel);
    const statestream::models::SsmModel model(file);
    const auto audio = noise(480 * 120, 11);

    auto original = tiny_speech_pipeline(model);
    (void)run(original, audio, 0, 60);
    const auto blob = save_stream(original);
    const auto want = run(original, audio, 60, 120);

    auto resumed = tiny_speech_pipeline(model);
    (void)run(resumed, noise(480 * 30, 5), 0, 30);  // another stream's state, to be overwritten
    restore_stream(resumed, blob, "stream.safetensors");
    const auto got = run(resumed, audio, 60, 120);
    REQUIRE(got.size() == want.size());
    CHECK(got == want);

    // Never stopping and the snapshot agree with a single uninterrupted run.
    auto uninterrupted = tiny_speech_pipeline(model);
    const auto all = run(uninterrupted, audio, 0, 120);
    CHECK(std::vector<float>(all.end() - static_cast<std::ptrdiff_t>(want.size()), all.end()) == want);
}

TEST_CASE("Stream snapshots from other pipelines or damaged ones are refused", "[engine][pipeline][snapshot]") {
    const auto file = statestream::models::ModelFile::load(kTinyModel);
    const statestream::models::SsmModel model(file);
    auto pipeline = tiny_speech_pipeline(model);
    const auto blob = save_stream(pipeline);

    auto other = make_pipeline(std::make_unique<ResampleStage>(44100, 16000, 441),
                               std::make_unique<LogMelStage>(statestream::dsp::LogMelConfig{16000.0, 400, 160, 8}),
                               std::make_unique<ModelStage>(model, 100.0));
    REQUIRE_THROWS_WITH(restore_stream(other, blob, "s.bin"),
                        Contains("s.bin: stage 1 was \"resample 48000->16000 Hz\" when saved"));
    auto shorter = make_pipeline(std::make_unique<ResampleStage>(48000, 16000, 480));
    REQUIRE_THROWS_WITH(restore_stream(shorter, blob, "s.bin"), Contains("pipeline of 3 stages, this one has 1"));
    REQUIRE_THROWS_WITH(restore_stream(pipeline, std::vector<std::byte>(5), "s.bin"), Contains("s.bin"));

    auto poisoned = blob;  // a NaN in the last float (the model state)
    const float nan = std::nanf("");
    std::memcpy(poisoned.data() + poisoned.size() - sizeof(float), &nan, sizeof nan);
    REQUIRE_THROWS_WITH(restore_stream(pipeline, poisoned, "s.bin"), Contains("stage 3 holds a non-finite value"));
}
