// The ARPA reader and backoff scoring of engine/ngram_language_model: probabilities of the
// beam fixture's LM (data/fixtures/ctc_beam_fixture.arpa) worked out by hand from its lines,
// then hostile files, written here, each refused with a message that names the file, the line
// and the problem.

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "engine/ngram_language_model.hpp"

using namespace statestream;
using Catch::Matchers::Contains;
using Lm = engine::NgramLanguageModel;

namespace {

const std::filesystem::path kFixtures = std::filesystem::path(STATESTREAM_DATA_DIR) / "fixtures";
constexpr std::string_view kAlphabet = "'abcdefghijklmnopqrstuvwxyz";

struct ScratchDir {
    std::filesystem::path path = std::filesystem::temp_directory_path() /
                                 ("statestream-arpa-" + std::to_string(::getpid()));
    ScratchDir() { std::filesystem::create_directories(path); }
    ~ScratchDir() { std::filesystem::remove_all(path); }
    [[nodiscard]] std::filesystem::path write(const std::string& name, const std::string& text) const {
        const auto file = path / name;
        std::ofstream(file) << text;
        return file;
    }
};

// A well-formed bigram model; the hostile cases below are small edits of it.
const std::string kGood = R"(# commentary before the header is allowed
\data\
ngram 1=5
ngram 2=2

\1-grams:
-1.0	</s>
-99	<s>	-0.5
-2.0	<unk>
-0.5	cat	-0.25
-0.7	dog	-0.25

\2-grams:
-0.3	<s> cat
-0.2	cat dog

\end\
)";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("ARPA trigram model: backoff probabilities as worked out from the file's lines",
          "[engine][lm]") {
    const Lm lm(kFixtures / "ctc_beam_fixture.arpa", kAlphabet);
    REQUIRE(lm.order() == 3);
    CHECK(lm.ngram_count(1) == 20);
    CHECK(lm.ngram_count(2) == 29);
    CHECK(lm.ngram_count(3) == 28);
    CHECK(lm.longest_word_bytes() == 5);  // "<unk>"
    const Lm::WordId s = lm.sentence_start();
    const auto id = [&](std::string_view word) { return lm.id_of(word); };

    // "<s> the cat" is a trigram.
    CHECK(lm.log10_prob(s, id("the"), id("cat")) == Approx(-0.428431).margin(1e-12));
    // "the dog home": no trigram; backoff(the dog) -0.301030, no "dog home", backoff(dog)
    // -0.093422, unigram home -1.388969.
    CHECK(lm.log10_prob(id("the"), id("dog"), id("home")) ==
          Approx(-0.301030 - 0.093422 - 1.388969).margin(1e-12));
    // "on cat" is no bigram, so no backoff weight for it; then bigram "cat ran".
    CHECK(lm.log10_prob(id("on"), id("cat"), id("ran")) == Approx(-0.512106).margin(1e-12));
    // A sentence's first word: the context is <s> alone.
    CHECK(lm.log10_prob(Lm::kNoWord, s, id("the")) == Approx(-0.492516).margin(1e-12));
    // A word outside the model is <unk>: backoff(<s> the), backoff(the), unigram <unk>.
    REQUIRE(id("zebra") == lm.unknown());
    CHECK(lm.log10_prob(s, id("the"), id("zebra")) ==
          Approx(-0.301030 - 0.093422 - 1.627208).margin(1e-12));
}

TEST_CASE("ARPA bigram model: a trigram context is shortened to the model's order", "[engine][lm]") {
    const ScratchDir dir;
    const Lm lm(dir.write("good.arpa", kGood), kAlphabet);
    REQUIRE(lm.order() == 2);
    const auto cat = lm.id_of("cat");
    const auto dog = lm.id_of("dog");
    CHECK(lm.log10_prob(lm.id_of("dog"), cat, dog) == Approx(-0.2).margin(1e-12));
    CHECK(lm.log10_prob(Lm::kNoWord, dog, cat) == Approx(-0.25 - 0.5).margin(1e-12));
    CHECK(lm.log10_prob(Lm::kNoWord, Lm::kNoWord, cat) == Approx(-0.5).margin(1e-12));
}

TEST_CASE("ARPA reader: hostile files are refused with the file and line and the problem named",
          "[engine][lm]") {
    const ScratchDir dir;
    struct Case {
        const char* name;
        std::string text;
        std::string problem;  // what the message must say
        std::string where;    // the file:line prefix it must name
    };
    const Case cases[] = {
        {"no_data.arpa", replaced(kGood, "\\data\\", "\\dada\\"), "no \\data\\ line", ""},
        {"count_high.arpa", replaced(kGood, "ngram 2=2", "ngram 2=3"),
         "lists 2 entries, but the \\data\\ header declares ngram 2=3", ":17:"},
        {"count_low.arpa", replaced(kGood, "ngram 1=5", "ngram 1=4"),
         "lists 5 entries, but the \\data\\ header declares ngram 1=4", ":13:"},
        {"bad_count.arpa", replaced(kGood, "ngram 2=2", "ngram 2=two"), "is not a count line", ":4:"},
        {"not_number.arpa", replaced(kGood, "-0.5\tcat", "minus\tcat"), "'minus' is not a number", ":10:"},
        {"nan.arpa", replaced(kGood, "-0.5\tcat", "nan\tcat"), "not a finite number", ":10:"},
        {"inf.arpa", replaced(kGood, "-0.7\tdog", "-inf\tdog"), "not a finite number", ":11:"},
        {"above_one.arpa", replaced(kGood, "-0.2\tcat dog", "0.2\tcat dog"), "<= 0", ":15:"},
        {"bad_backoff.arpa", replaced(kGood, "-0.5\tcat\t-0.25", "-0.5\tcat\tinf"),
         "backoff weight inf is not finite", ":10:"},
        {"wrong_order.arpa", replaced(kGood, "-0.2\tcat dog", "-0.2\tcat dog cat"), "has 4 fields", ":15:"},
        {"short_entry.arpa", replaced(kGood, "-0.2\tcat dog", "-0.2\tcat"), "has 2 fields", ":15:"},
        {"top_backoff.arpa", replaced(kGood, "-0.2\tcat dog", "-0.2\tcat dog\t-0.1"), "has 4 fields", ":15:"},
        {"truncated.arpa", kGood.substr(0, kGood.find("-0.2\tcat dog")),
         "truncated: copy or rebuild it", ""},
        {"uppercase.arpa", replaced(kGood, "dog", "Dog"), "'Dog' holds 'D'", ":11:"},
        {"hyphen.arpa", replaced(kGood, "dog", "hot-dog"), "cannot spell", ":11:"},
        {"order4.arpa", replaced(kGood, "ngram 2=2\n", "ngram 2=2\nngram 3=0\nngram 4=0\n"),
         "reads up to 3-grams", ":6:"},
        {"count_order.arpa", replaced(kGood, "ngram 2=2", "ngram 3=2"), "declares order 3 where order 2", ":4:"},
        {"section_order.arpa", replaced(kGood, "\\2-grams:", "\\3-grams:"), "\\3-grams: where \\2-grams: comes next", ":13:"},
        {"no_unk.arpa", replaced(replaced(kGood, "-2.0\t<unk>\n", ""), "ngram 1=5", "ngram 1=4"),
         "has no <unk> unigram", ""},
        {"no_s.arpa", replaced(replaced(replaced(kGood, "-99\t<s>\t-0.5\n", ""), "ngram 1=5", "ngram 1=4"),
                               "-0.3\t<s> cat\n", "-0.3\tdog cat\n"),
         "has no <s> unigram", ""},
        {"unknown_word.arpa", replaced(kGood, "-0.2\tcat dog", "-0.2\tcat bird"),
         "'bird' has no \\1-grams: entry", ":15:"},
        {"twice.arpa", replaced(kGood, "-0.2\tcat dog", "-0.3\t<s> cat"), "is listed twice", ":15:"},
        {"stray.arpa", replaced(kGood, "\\1-grams:", "hello there\n\\1-grams:"), "'hello there' where", ":6:"},
    };
    for (const Case& c : cases) {
        const auto path = dir.write(c.name, c.text);
        INFO(c.name);
        try {
            const Lm lm(path, kAlphabet);
            FAIL_CHECK("accepted " << c.name);
        } catch (const std::invalid_argument& error) {
            const std::string message = error.what();
            INFO(message);
            CHECK_THAT(message, Contains(path.string() + (c.where.empty() ? ":" : c.where)));
            CHECK_THAT(message, Contains(c.problem));
        }
    }
    CHECK_THROWS_WITH(Lm(dir.path / "missing.arpa", kAlphabet),
                      Contains("missing.arpa") && Contains("cannot open") && Contains("--lm none"));
    CHECK_NOTHROW(Lm(dir.write("good.arpa", kGood), kAlphabet));
}
