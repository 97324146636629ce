// The transcriber's chain in C++ against the PyTorch reference's golden fixture (a small random
// transcriber: data/fixtures/transcriber_fixture*.safetensors, written by
// models/train/asr/make_transcriber_fixture.py): log-mel features and model steps give the
// reference's scores, and a whole file decodes to the reference's greedy text. Then greedy CTC
// decoding itself on hand-made scores.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

#include <sndfile.h>

#include "dsp/log_mel_frontend.hpp"
#include "engine/ctc_greedy_decoder.hpp"
#include "engine/ctc_prefix_beam_decoder.hpp"
#include "engine/transcribe_file.hpp"
#include "engine/transcript_sink.hpp"
#include "models/model_file.hpp"
#include "models/safetensors_file.hpp"
#include "models/mapped_file.hpp"
#include "models/ssm_model.hpp"
#include "tests/support/fixture_file.hpp"

using namespace statestream;
using Catch::Matchers::Contains;

namespace {

const std::filesystem::path kFixtures = std::filesystem::path(STATESTREAM_DATA_DIR) / "fixtures";

struct Transcriber {
    models::ModelFile file = models::ModelFile::load(kFixtures / "transcriber_fixture.safetensors");
    models::SsmModel model{file};
};

const Transcriber& transcriber() {
    static const Transcriber loaded;
    return loaded;
}

std::string fixture_greedy_text() {
    const models::MappedFile mapping(kFixtures / "transcriber_fixture.io.safetensors");
    const auto view = models::SafetensorsView::parse(mapping.bytes(), "transcriber_fixture.io");
    return view.metadata().at("greedy_text");
}

}  // namespace

TEST_CASE("Log-mel features and model steps give the reference transcriber's scores",
          "[engine][transcribe]") {
    const test::FixtureFile io(kFixtures / "transcriber_fixture.io.safetensors");
    std::vector<float> audio = io.floats("input");
    audio.resize(audio.size() + 6400, 0.0f);  // the 0.4 s of silence the engine appends
    const std::vector<double> expected = io.doubles("scores");
    const models::SsmModel& model = transcriber().model;
    REQUIRE(model.file().description().labels.size() == model.output_dim());

    dsp::LogMelFrontend features({16000.0, 400, 160, 80});
    models::StreamState state = model.make_state();
    models::ModelWorkspace workspace(model, 1);
    std::vector<float> mel(80);
    std::vector<float> scores(model.output_dim());
    double worst = 0.0;
    double peak = 0.0;
    std::size_t frame = 0;
    for (std::size_t at = 0; at + 160 <= audio.size(); at += 160, ++frame) {
        features.process(std::span<const float>(audio).subspan(at, 160), mel);
        model.step(state, workspace, mel, scores);
        for (std::size_t k = 0; k < scores.size(); ++k) {
            const double reference = expected[frame * scores.size() + k];
            worst = std::max(worst, std::abs(scores[k] - reference));
            peak = std::max(peak, std::abs(reference));
        }
    }
    REQUIRE(frame * model.output_dim() == expected.size());
    INFO("max |C++ - reference| = " << worst << ", peak " << peak);
    CHECK(worst < 1e-4 * peak);
}

TEST_CASE("A file through transcribe_file decodes to the reference's greedy text",
          "[engine][transcribe]") {
    const test::FixtureFile io(kFixtures / "transcriber_fixture.io.safetensors");
    const std::vector<float> audio = io.floats("input");
    const auto path = std::filesystem::temp_directory_path() /
                      ("statestream-transcribe-" + std::to_string(::getpid()) + ".wav");
    SF_INFO info{};
    info.samplerate = 16000;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
    REQUIRE(file != nullptr);
    sf_writef_float(file, audio.data(), static_cast<sf_count_t>(audio.size()));
    sf_close(file);

    const engine::Transcript transcript = engine::transcribe_file(transcriber().model, path);
    std::filesystem::remove(path);
    const std::string expected = fixture_greedy_text();
    REQUIRE(!expected.empty());
    CHECK(transcript.text == expected);
    CHECK(transcript.audio_seconds == Approx(0.6));
    CHECK(transcript.steps == (9600 + 6400) / 160);
}

TEST_CASE("Greedy CTC collapses repeats, drops blanks, splits words at spaces and times them",
          "[engine][transcribe]") {
    engine::CtcGreedyDecoder decoder({"", " ", "a", "b"}, 0.01);
    // Frame by frame, the best label: a a _ a b ' ' b _  (a blank between two a's keeps both).
    for (const std::size_t best : {2, 2, 0, 2, 3, 1, 3, 0}) {
        std::vector<float> scores(4, -1.0f);
        scores[best] = 1.0f;
        decoder.push(scores);
    }
    CHECK(decoder.text() == "aab b");
    REQUIRE(decoder.words().size() == 2);
    CHECK(decoder.words()[0].start_s == Approx(0.0));
    CHECK(decoder.words()[0].end_s == Approx(0.05));
    CHECK(decoder.words()[1].start_s == Approx(0.06));
    CHECK(decoder.frames_since_emission() == 1);
    CHECK_THROWS_WITH(engine::CtcGreedyDecoder({"a", "b"}, 0.01), Contains("blank"));
}

TEST_CASE("transcribe_file refuses a model that is not a transcriber", "[engine][transcribe]") {
    const auto file = models::ModelFile::load(kFixtures / "enhancer_fixture.safetensors");
    const models::SsmModel model(file);
    CHECK_THROWS_WITH(engine::require_transcriber_model(model),
                      Contains("enhancer_fixture.safetensors") && Contains("not a transcriber"));
}

namespace {

// Peaky frames that spell `text` (each character 2 frames after 2 blank frames), then `pause`
// blank frames; 29 scores per frame, text.py's vocabulary.
void spell_frames(std::vector<float>& out, const std::string& text, std::size_t pause) {
    const auto frame = [&](std::size_t label) {
        for (std::size_t k = 0; k < 29; ++k) out.push_back(k == label ? 6.0f : -6.0f);
    };
    for (const char c : text) {
        const std::size_t label = c == ' ' ? 1 : c == '\'' ? 2 : static_cast<std::size_t>(c - 'a' + 3);
        frame(0);
        frame(0);
        frame(label);
        frame(label);
    }
    for (std::size_t i = 0; i < pause; ++i) frame(0);
}

std::vector<std::string> vocabulary() {
    std::vector<std::string> labels = {"", " ", "'"};
    for (char c = 'a'; c <= 'z'; ++c) labels.emplace_back(1, c);
    return labels;
}

}  // namespace

TEST_CASE("The transcript sink with either decoder: partials as the text grows and a final "
          "after the pause, then a fresh segment", "[engine][transcribe]") {
    std::vector<float> scores;
    spell_frames(scores, "the cat sat", 40);   // 0.4 s pause: longer than the 0.3 s endpoint
    spell_frames(scores, "a dog", 5);
    const auto lm = std::make_shared<const engine::NgramLanguageModel>(
        kFixtures / "ctc_beam_fixture.arpa", engine::CtcPrefixBeamDecoder::alphabet_of(vocabulary()));
    std::unique_ptr<engine::CtcDecoder> decoders[] = {
        std::make_unique<engine::CtcGreedyDecoder>(vocabulary(), 0.01),
        std::make_unique<engine::CtcPrefixBeamDecoder>(vocabulary(), 0.01, 0.0, engine::CtcBeamSettings{}, lm),
    };
    for (auto& decoder : decoders) {
        const std::string name(decoder->name());
        INFO(name);
        std::vector<std::string> partials;
        std::vector<std::vector<engine::TimedWord>> finals;
        engine::TranscriptEvents events;
        events.partial = [&](const std::string& text) { partials.push_back(text); };
        events.final = [&](const std::vector<engine::TimedWord>& words) { finals.push_back(words); };
        engine::TranscriptSink sink(std::move(decoder), 0.01, 0.3, events);
        CHECK_THAT(sink.describe(), Contains(name));
        const std::size_t frame = 29 * 7;  // blocks of 7 frames: segments end inside blocks
        for (std::size_t at = 0; at < scores.size(); at += frame) {
            sink.write(std::span<const float>(scores).subspan(at, std::min(frame, scores.size() - at)));
        }
        REQUIRE(finals.size() == 1);  // the second segment is still open
        sink.finish();
        REQUIRE(finals.size() == 2);
        std::vector<std::string> texts;
        for (const auto& words : finals) {
            std::string text;
            for (const auto& word : words) text += (text.empty() ? "" : " ") + word.text;
            texts.push_back(text);
        }
        CHECK(texts[0] == "the cat sat");
        CHECK(texts[1] == "a dog");
        CHECK(finals[1].front().start_s > finals[0].back().end_s + 0.3);
        REQUIRE(partials.size() >= 4);
        CHECK(std::find(partials.begin(), partials.end(), "the cat sat") != partials.end());
        CHECK(partials.back() == "a dog");
    }
}
