// engine/transcribe_file's chunked path, engine/batch/transcribe_task and
// engine/transcript_formats: the recogniser with the model run over chunks gives the transcript
// engine::transcribe_file gives step by step, on the shipped recogniser, LM and speech sample;
// and the formats a batch writes.

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/batch/transcribe_task.hpp"
#include "engine/ctc_prefix_beam_decoder.hpp"
#include "engine/io/audio_file.hpp"
#include "engine/ngram_language_model.hpp"
#include "engine/transcribe_file.hpp"
#include "engine/transcript_formats.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"
#include "tests/support/scratch_dir.hpp"

using namespace statestream;
using engine::batch::ModelCalls;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

const fs::path kData(STATESTREAM_DATA_DIR);

struct Loaded {
    explicit Loaded(const fs::path& path) : file(models::ModelFile::load(path)), model(file) {}
    models::ModelFile file;
    models::SsmModel model;
};

const models::SsmModel& shipped_transcriber() {
    static const Loaded loaded(kData / "models" / "transcriber.safetensors");
    return loaded.model;
}

const models::SsmModel& fixture_transcriber() {
    static const Loaded loaded(kData / "fixtures" / "transcriber_fixture.safetensors");
    return loaded.model;
}

// The decoder `statestream transcribe` uses by default: beam 64 with the shipped word LM.
engine::CtcDecoderFactory shipped_beam_decoder(const models::SsmModel& model) {
    const auto lm = std::make_shared<const engine::NgramLanguageModel>(
        kData / "models" / "transcriber.lm.arpa",
        engine::CtcPrefixBeamDecoder::alphabet_of(model.file().description().labels));
    const engine::CtcBeamSettings settings;
    return [lm, settings](const std::vector<std::string>& labels, double frame_s, double offset_s) {
        return std::make_unique<engine::CtcPrefixBeamDecoder>(labels, frame_s, offset_s, settings, lm);
    };
}

engine::FileRunOptions calls(ModelCalls calls, std::size_t chunk_hops = engine::kFileChunkHops) {
    engine::FileRunOptions options;
    options.calls = calls;
    options.chunk_hops = chunk_hops;
    return options;
}

void require_same(const engine::Transcript& got, const engine::Transcript& want) {
    CHECK(got.text == want.text);
    CHECK(got.steps == want.steps);
    CHECK(got.audio_seconds == want.audio_seconds);
    CHECK(got.decoder == want.decoder);
    REQUIRE(got.words.size() == want.words.size());
    for (std::size_t i = 0; i < got.words.size(); ++i) {
        CHECK(got.words[i].text == want.words[i].text);
        CHECK(got.words[i].start_s == Approx(want.words[i].start_s).margin(1e-9));
        CHECK(got.words[i].end_s == Approx(want.words[i].end_s).margin(1e-9));
    }
}

}  // namespace

TEST_CASE("Batch transcribe: chunked forward() gives transcribe_file's transcript on the shipped sample",
          "[engine][batch][transcribe]") {
    const models::SsmModel& model = shipped_transcriber();
    const fs::path sample = kData / "audio" / "speech_16k.wav";
    const auto beam = shipped_beam_decoder(model);
    const engine::Transcript stepped = engine::transcribe_file(model, sample, beam);
    REQUIRE(stepped.words.size() > 10);  // it heard speech, so equal texts mean something
    for (const std::size_t chunk : {std::size_t{128}, std::size_t{37}}) {
        INFO("chunk " << chunk << " hops, beam search with the shipped LM");
        const engine::Transcript chunked =
            engine::transcribe_file(model, sample, beam, calls(ModelCalls::kChunked, chunk));
        require_same(chunked, stepped);
    }
    INFO("greedy");
    require_same(engine::transcribe_file(model, sample, {}, calls(ModelCalls::kChunked)),
                 engine::transcribe_file(model, sample));
}

TEST_CASE("Batch transcribe: a 44.1 kHz file (resampled) and step-by-step calls agree too",
          "[engine][batch][transcribe]") {
    const fs::path dir = test::fresh_scratch_dir("batch-transcribe", "rate");
    // The sample's samples declared as 44.1 kHz: it plays faster, but the resampler runs, and
    // that is what this case is about.
    engine::AudioFileReader reader(kData / "audio" / "speech_16k.wav");
    std::vector<float> samples(reader.format().frames);
    samples.resize(reader.read_mono(samples));
    {
        engine::AudioFileWriter writer(dir / "fast.wav", 44100, 1, engine::AudioFileType::kWav);
        writer.write(samples);
        writer.commit();
    }
    const models::SsmModel& model = fixture_transcriber();
    const engine::Transcript reference = engine::transcribe_file(model, dir / "fast.wav");
    require_same(engine::transcribe_file(model, dir / "fast.wav", {}, calls(ModelCalls::kChunked, 50)),
                 reference);
    require_same(engine::transcribe_file(model, dir / "fast.wav", {}, calls(ModelCalls::kStepByStep)),
                 reference);
    fs::remove_all(dir);
}

TEST_CASE("Batch transcribe: the task writes the chosen format under the output's name only when done",
          "[engine][batch][transcribe]") {
    const fs::path dir = test::fresh_scratch_dir("batch-transcribe", "task");
    const fs::path sample = kData / "audio" / "speech_16k.wav";
    engine::batch::TranscribeTaskConfig config;
    config.format = engine::TranscriptFormat::kJsonl;
    const engine::batch::TranscribeTask task(fixture_transcriber(), config);
    CHECK(task.output_extension() == ".jsonl");
    const std::atomic<bool> stop{false};
    const auto outcome = task.process(sample, dir / "sample.jsonl", stop);
    CHECK(outcome.audio_seconds == Approx(10.75));
    CHECK_FALSE(fs::exists(dir / "sample.jsonl.partial"));
    std::ifstream in(dir / "sample.jsonl");
    std::string line;
    REQUIRE(std::getline(in, line));
    const auto json = nlohmann::json::parse(line);
    CHECK(json["final"] == true);
    CHECK(json["file"] == sample.string());
    CHECK(json["audio_s"].get<double>() == Approx(10.75));
    CHECK(json["decoder"] == "greedy");

    const std::atomic<bool> stopped{true};
    CHECK_THROWS_AS(task.process(sample, dir / "again.jsonl", stopped), engine::batch::BatchInterrupted);
    CHECK_FALSE(fs::exists(dir / "again.jsonl"));
    fs::remove_all(dir);
}

TEST_CASE("Transcript formats: text, JSON line, SRT and WebVTT cues", "[engine][batch][transcribe]") {
    using engine::TranscriptFormat;
    engine::Transcript t;
    t.text = "one two three";
    t.decoder = "greedy";
    t.audio_seconds = 9.0;
    t.words = {{"one", 0.5, 0.8}, {"two", 0.9, 1.2}, {"three", 3.0, 3.456}};  // 1.8 s pause: a new cue
    CHECK(engine::render_transcript(t, TranscriptFormat::kText, "a.wav") == "one two three\n");
    const auto json = nlohmann::json::parse(engine::render_transcript(t, TranscriptFormat::kJsonl, "a.wav"));
    CHECK(json["text"] == "one two three");
    CHECK(json["words"].size() == 3);
    CHECK(json["words"][2]["end"].get<double>() == Approx(3.456));
    CHECK(engine::render_transcript(t, TranscriptFormat::kSrt, "a.wav") ==
          "1\n00:00:00,500 --> 00:00:01,200\none two\n\n2\n00:00:03,000 --> 00:00:03,456\nthree\n\n");
    CHECK(engine::render_transcript(t, TranscriptFormat::kVtt, "a.wav") ==
          "WEBVTT\n\n00:00:00.500 --> 00:00:01.200\none two\n\n00:00:03.000 --> 00:00:03.456\nthree\n\n");
    CHECK(engine::parse_transcript_format("txt") == TranscriptFormat::kText);
    CHECK(engine::parse_transcript_format("vtt") == TranscriptFormat::kVtt);
    CHECK_FALSE(engine::parse_transcript_format("docx").has_value());
    CHECK(engine::extension_of(TranscriptFormat::kSrt) == ".srt");
}
