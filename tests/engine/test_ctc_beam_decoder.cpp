// The CTC prefix beam search (engine/ctc_prefix_beam_decoder) against its Python reference's
// golden fixture (data/fixtures/ctc_beam_fixture.*, written by
// models/train/asr/make_beam_fixture.py from models/train/asr/ctc_beam.py): the same text, word
// frames and scores for every case, with and without the LM. Then its streaming contract:
// reading at any frame, reset(), end_segment(), endpointing, broken frames, bad settings.

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/ctc_greedy_decoder.hpp"
#include "engine/ctc_prefix_beam_decoder.hpp"
#include "engine/ngram_language_model.hpp"
#include "models/mapped_file.hpp"
#include "models/safetensors_file.hpp"
#include "tests/support/fixture_file.hpp"

using namespace statestream;
using Catch::Matchers::Contains;

namespace {

const std::filesystem::path kFixtures = std::filesystem::path(STATESTREAM_DATA_DIR) / "fixtures";
// Both sides add the same float64 terms in the same order from the same float32 inputs; only
// the last bits of exp/log1p may differ between libms.
constexpr double kScoreTolerance = 1e-9;

std::vector<std::string> vocabulary() {  // models/train/asr/text.py VOCABULARY, blank as ""
    std::vector<std::string> labels = {"", " ", "'"};
    for (char c = 'a'; c <= 'z'; ++c) labels.emplace_back(1, c);
    return labels;
}

struct FixtureCase {
    std::size_t index = 0;
    std::vector<float> logits;  // {frames, 29}
    nlohmann::json expected;
    engine::CtcBeamSettings settings;
};

std::vector<FixtureCase> fixture_cases() {
    const models::MappedFile mapping(kFixtures / "ctc_beam_fixture.safetensors");
    const auto view = models::SafetensorsView::parse(mapping.bytes(), "ctc_beam_fixture");
    const auto all = nlohmann::json::parse(view.metadata().at("cases"));
    const test::FixtureFile tensors(kFixtures / "ctc_beam_fixture.safetensors");
    std::vector<FixtureCase> cases;
    for (std::size_t i = 0; i < all.size(); ++i) {
        FixtureCase c;
        c.index = i;
        c.logits = tensors.floats("logits_" + std::to_string(i));
        c.expected = all[i];
        const auto& s = c.expected["settings"];
        c.settings.beam = s["beam"].get<std::uint32_t>();
        c.settings.lm_weight = s["lm_weight"].get<double>();
        c.settings.word_bonus = s["word_bonus"].get<double>();
        c.settings.prune_top_k = s["prune_top_k"].get<std::uint32_t>();
        c.settings.prune_log_prob = s["prune_log_prob"].get<double>();
        c.settings.max_pending_labels = s["max_pending_labels"].get<std::uint32_t>();
        cases.push_back(std::move(c));
    }
    return cases;
}

std::shared_ptr<const engine::NgramLanguageModel> fixture_lm() {
    static const auto lm = std::make_shared<const engine::NgramLanguageModel>(
        kFixtures / "ctc_beam_fixture.arpa", engine::CtcPrefixBeamDecoder::alphabet_of(vocabulary()));
    return lm;
}

// One frame per second and no offset, so a word's times are its frame numbers.
engine::CtcPrefixBeamDecoder decoder_for(const FixtureCase& c, bool with_lm) {
    return engine::CtcPrefixBeamDecoder(vocabulary(), 1.0, 0.0, c.settings,
                                        with_lm ? fixture_lm() : nullptr);
}

void push_all(engine::CtcDecoder& decoder, const std::vector<float>& logits) {
    const std::size_t dim = decoder.labels().size();
    for (std::size_t at = 0; at + dim <= logits.size(); at += dim) {
        decoder.push(std::span<const float>(logits).subspan(at, dim));
    }
}

double score_error(double got, double want) { return std::abs(got - want) / std::max(1.0, std::abs(want)); }

// Seeded frames like a trained model's: one label far ahead each frame, blank half the time.
std::vector<float> peaky_frames(std::size_t frames, std::uint32_t seed) {
    std::mt19937 generator(seed);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    std::uniform_int_distribution<std::size_t> label(1, 28);
    std::bernoulli_distribution blank(0.5);
    std::vector<float> logits(frames * 29);
    for (std::size_t t = 0; t < frames; ++t) {
        for (std::size_t k = 0; k < 29; ++k) logits[t * 29 + k] = noise(generator);
        logits[t * 29 + (blank(generator) ? 0 : label(generator))] += 12.0f;
    }
    return logits;
}

}  // namespace

TEST_CASE("Beam search decodes the golden fixture as the Python reference does",
          "[engine][transcribe][beam]") {
    const auto cases = fixture_cases();
    REQUIRE(cases.size() >= 8);
    for (const FixtureCase& c : cases) {
        const bool with_lm = c.expected["lm"].get<bool>();
        engine::CtcPrefixBeamDecoder decoder = decoder_for(c, with_lm);
        push_all(decoder, c.logits);
        INFO("case " << c.index << " (" << c.expected["settings"].dump() << ", LM " << with_lm
                     << "): got '" << decoder.text() << "', want '"
                     << c.expected["text"].get<std::string>() << "'; score " << decoder.best_score()
                     << " vs " << c.expected["score"].get<double>() << ", ln p " << decoder.best_log_p()
                     << " vs " << c.expected["log_p"].get<double>());
        CHECK(decoder.name() == (with_lm ? "beam+lm" : "beam"));
        CHECK(decoder.text() == c.expected["text"].get<std::string>());
        CHECK(score_error(decoder.best_score(), c.expected["score"].get<double>()) < kScoreTolerance);
        CHECK(score_error(decoder.best_log_p(), c.expected["log_p"].get<double>()) < kScoreTolerance);
        const auto words = decoder.words();
        const auto& want_words = c.expected["words"];
        REQUIRE(words.size() == want_words.size());
        for (std::size_t w = 0; w < words.size(); ++w) {
            CHECK(words[w].start_s == want_words[w][0].get<double>());
            CHECK(words[w].end_s == want_words[w][1].get<double>() + 1.0);  // the end of that frame
        }

        engine::CtcPrefixBeamDecoder plain = decoder_for(c, false);
        push_all(plain, c.logits);
        CHECK(plain.text() == c.expected["text_without_lm"].get<std::string>());
    }
}

TEST_CASE("The fixture's near-ties are resolved by the LM and not by the acoustics",
          "[engine][transcribe][beam]") {
    // Guards the fixture itself: if its cases stopped needing the LM, the test above would no
    // longer show that the C++ applies it as the reference does.
    std::size_t flipped = 0;
    for (const FixtureCase& c : fixture_cases()) {
        if (c.expected["lm"].get<bool>() && c.expected["text"] != c.expected["text_without_lm"]) ++flipped;
    }
    CHECK(flipped >= 3);
}

TEST_CASE("Beam search: reading at every frame changes nothing and reset() starts over",
          "[engine][transcribe][beam]") {
    const auto cases = fixture_cases();
    const FixtureCase& c = cases.at(7);  // the long one, with a small pending bound: commits happen
    engine::CtcPrefixBeamDecoder decoder = decoder_for(c, true);
    const std::size_t dim = 29;
    std::size_t changes = 0;
    std::string previous;
    for (std::size_t at = 0; at + dim <= c.logits.size(); at += dim) {
        decoder.push(std::span<const float>(c.logits).subspan(at, dim));
        const std::string text = decoder.text();
        if (text != previous) ++changes;
        previous = text;
        CHECK(decoder.hypotheses() <= c.settings.beam);
    }
    CHECK(changes > 10);
    CHECK(decoder.text() == c.expected["text"].get<std::string>());
    CHECK(score_error(decoder.best_score(), c.expected["score"].get<double>()) < kScoreTolerance);

    decoder.reset();
    CHECK(decoder.text().empty());
    CHECK(decoder.frames() == 0);
    push_all(decoder, c.logits);
    CHECK(decoder.text() == c.expected["text"].get<std::string>());
    CHECK(score_error(decoder.best_score(), c.expected["score"].get<double>()) < kScoreTolerance);
}

TEST_CASE("Beam search of width 1 without an LM is greedy decoding on peaky frames",
          "[engine][transcribe][beam]") {
    for (const std::uint32_t seed : {1u, 2u, 3u, 4u, 5u}) {
        const auto logits = peaky_frames(203, seed);  // 203: an odd length
        engine::CtcGreedyDecoder greedy(vocabulary(), 0.01, 0.005);
        engine::CtcBeamSettings settings;
        settings.beam = 1;
        engine::CtcPrefixBeamDecoder beam(vocabulary(), 0.01, 0.005, settings, nullptr);
        push_all(greedy, logits);
        push_all(beam, logits);
        INFO("seed " << seed << ": greedy '" << greedy.text() << "', beam '" << beam.text() << "'");
        REQUIRE(!greedy.text().empty());
        CHECK(beam.text() == greedy.text());
        const auto a = greedy.words();
        const auto b = beam.words();
        REQUIRE(a.size() == b.size());
        for (std::size_t w = 0; w < a.size(); ++w) {
            CHECK(a[w].start_s == Approx(b[w].start_s));
            CHECK(a[w].end_s == Approx(b[w].end_s));
        }
    }
}

TEST_CASE("Beam search: end_segment() starts a new sentence and the clock runs on",
          "[engine][transcribe][beam]") {
    const auto cases = fixture_cases();
    const FixtureCase& c = cases.at(1);
    engine::CtcPrefixBeamDecoder decoder = decoder_for(c, true);
    push_all(decoder, c.logits);
    const auto first = decoder.words();
    const std::size_t frames = decoder.frames();
    decoder.end_segment();
    CHECK(decoder.text().empty());
    CHECK(decoder.words().empty());
    CHECK(decoder.frames() == frames);
    CHECK(decoder.frames_since_emission() > 0);  // ending a segment is not new text
    push_all(decoder, c.logits);
    // The second segment starts again from <s>, so it decodes exactly as the first did.
    CHECK(decoder.text() == c.expected["text"].get<std::string>());
    CHECK(score_error(decoder.best_score(), c.expected["score"].get<double>()) < kScoreTolerance);
    const auto second = decoder.words();
    REQUIRE(second.size() == first.size());
    for (std::size_t w = 0; w < first.size(); ++w) {
        CHECK(second[w].start_s == first[w].start_s + static_cast<double>(frames));
    }
}

TEST_CASE("Beam search counts frames since the best text changed and skips broken frames",
          "[engine][transcribe][beam]") {
    engine::CtcPrefixBeamDecoder decoder(vocabulary(), 0.01, 0.0, engine::CtcBeamSettings{}, fixture_lm());
    std::vector<float> frame(29, -5.0f);
    const auto say = [&](std::size_t label) {
        std::fill(frame.begin(), frame.end(), -5.0f);
        frame[label] = 5.0f;
        decoder.push(frame);
    };
    say(0);
    CHECK(decoder.frames_since_emission() == 1);  // nothing yet: every frame counts
    for (const char c : std::string("cat")) say(static_cast<std::size_t>(c - 'a' + 3));
    CHECK(decoder.frames_since_emission() == 0);
    CHECK(decoder.text() == "cat");
    say(0);
    say(0);
    CHECK(decoder.frames_since_emission() == 2);

    frame[0] = std::numeric_limits<float>::quiet_NaN();
    decoder.push(frame);
    frame[0] = std::numeric_limits<float>::infinity();
    decoder.push(frame);
    CHECK(decoder.skipped_frames() == 2);
    CHECK(decoder.frames() == 8);
    CHECK(decoder.text() == "cat");
    CHECK(std::isfinite(decoder.best_score()));
    CHECK_THROWS_WITH(decoder.push(std::vector<float>(28, 0.0f)), Contains("28 scores for 29"));
}

TEST_CASE("Beam search refuses bad settings and labels and names them", "[engine][transcribe][beam]") {
    const auto make = [](engine::CtcBeamSettings settings) {
        return engine::CtcPrefixBeamDecoder(vocabulary(), 0.01, 0.0, settings, nullptr);
    };
    engine::CtcBeamSettings settings;
    settings.beam = 0;
    CHECK_THROWS_WITH(make(settings), Contains("beam 0") && Contains("--beam 1..256"));
    settings.beam = 257;
    CHECK_THROWS_WITH(make(settings), Contains("beam 257"));
    settings = {};
    settings.lm_weight = std::numeric_limits<double>::quiet_NaN();
    CHECK_THROWS_WITH(make(settings), Contains("LM weight nan") && Contains("--lm-weight"));
    settings = {};
    settings.lm_weight = -1.0;
    CHECK_THROWS_WITH(make(settings), Contains(">= 0"));
    settings = {};
    settings.word_bonus = std::numeric_limits<double>::infinity();
    CHECK_THROWS_WITH(make(settings), Contains("word bonus inf") && Contains("--word-bonus"));
    settings = {};
    settings.prune_top_k = 30;
    CHECK_THROWS_WITH(make(settings), Contains("prune_top_k 30 must be 1..29"));
    settings = {};
    settings.max_pending_labels = 0;
    CHECK_THROWS_WITH(make(settings), Contains("max_pending_labels 0"));
    CHECK_THROWS_WITH(engine::CtcPrefixBeamDecoder({"a", "b"}, 0.01, 0.0, {}, nullptr), Contains("blank"));
    CHECK_THROWS_WITH(engine::CtcPrefixBeamDecoder({"", "", "b"}, 0.01, 0.0, {}, nullptr),
                      Contains("label 1 is empty"));
}
