#include "engine/ngram_language_model.hpp"

#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <span>
#include <stdexcept>

#include <fmt/core.h>

namespace statestream::engine {

namespace {

constexpr std::string_view kSentenceStart = "<s>";
constexpr std::string_view kSentenceEnd = "</s>";
constexpr std::string_view kUnknown = "<unk>";
// Said after every complaint about the file's content: where a good one comes from.
constexpr std::string_view kRebuild =
    "models/train/asr/ngram_lm.py writes a well-formed one (models/train/asr/README.md), or "
    "give --lm none to decode without a language model";

std::string_view trimmed(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) return {};
    const auto last = text.find_last_not_of(" \t\r");
    return text.substr(first, last - first + 1);
}

// Whitespace-separated fields; at most fields.size() are kept, and the count is of all of them.
std::size_t split_fields(std::string_view line, std::span<std::string_view> fields) {
    std::size_t count = 0;
    std::size_t at = 0;
    while (true) {
        at = line.find_first_not_of(" \t", at);
        if (at == std::string_view::npos) break;
        const std::size_t end = std::min(line.find_first_of(" \t", at), line.size());
        if (count < fields.size()) fields[count] = line.substr(at, end - at);
        ++count;
        at = end;
    }
    return count;
}

bool parse_number(std::string_view text, double& value) {
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    return error == std::errc() && end == text.data() + text.size();
}

// "\2-grams:" -> 2; 0 for anything else.
std::uint32_t section_header_order(std::string_view line) {
    if (line.size() < 9 || line.front() != '\\' || !line.ends_with("-grams:")) return 0;
    std::uint32_t order = 0;
    const auto digits = line.substr(1, line.size() - 1 - 7);
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), order);
    return error == std::errc() && end == digits.data() + digits.size() ? order : 0;
}

}  // namespace

NgramLanguageModel::NgramLanguageModel(const std::filesystem::path& path, std::string_view alphabet)
    : source_(path.string()) {
    std::ifstream in(path);
    if (!in) {
        throw std::invalid_argument(fmt::format(
            "{}: cannot open the language model ({}); give --lm an ARPA file, or --lm none",
            source_, std::strerror(errno)));
    }
    std::array<bool, 256> allowed{};
    for (const char c : alphabet) allowed[static_cast<unsigned char>(c)] = true;

    const auto fail = [&](std::size_t line_number, const std::string& problem) {
        return std::invalid_argument(
            fmt::format("{}:{}: {}; {}", source_, line_number, problem, kRebuild));
    };

    enum class Part { kPreamble, kCounts, kEntries, kEnd };
    Part part = Part::kPreamble;
    std::vector<std::size_t> declared;  // entries per order, from the \data\ header
    std::uint32_t section = 0;          // the order whose entries are being read
    std::size_t listed = 0;             // entries read in that section
    std::size_t section_line = 0;
    std::size_t line_number = 0;
    std::string raw;
    std::array<std::string_view, kMaxOrder + 2> fields;

    const auto close_section = [&](std::size_t at_line) {
        if (section == 0) return;
        if (listed != declared[section - 1]) {
            throw fail(at_line, fmt::format(
                "the \\{}-grams: section (from line {}) lists {} entries, but the \\data\\ header "
                "declares ngram {}={}", section, section_line, listed, section, declared[section - 1]));
        }
    };

    while (part != Part::kEnd && std::getline(in, raw)) {
        ++line_number;
        const std::string_view line = trimmed(raw);
        if (part == Part::kPreamble) {  // text before \data\ is commentary
            if (line == "\\data\\") part = Part::kCounts;
            continue;
        }
        if (line.empty()) continue;
        if (part == Part::kCounts && line.starts_with("ngram")) {
            const auto equals = line.find('=');
            std::uint32_t order = 0;
            std::size_t count = 0;
            const auto order_text = trimmed(line.substr(5, equals == std::string_view::npos ? 0 : equals - 5));
            const auto count_text = equals == std::string_view::npos ? std::string_view{} : trimmed(line.substr(equals + 1));
            const auto [o_end, o_error] = std::from_chars(order_text.data(), order_text.data() + order_text.size(), order);
            const auto [c_end, c_error] = std::from_chars(count_text.data(), count_text.data() + count_text.size(), count);
            if (equals == std::string_view::npos || o_error != std::errc() || c_error != std::errc() ||
                o_end != order_text.data() + order_text.size() || c_end != count_text.data() + count_text.size()) {
                throw fail(line_number, fmt::format("'{}' is not a count line such as 'ngram 2=39567'", line));
            }
            if (order != declared.size() + 1) {
                throw fail(line_number, fmt::format("'{}' declares order {} where order {} comes next "
                                                    "(count lines go 1, 2, 3 in turn)",
                                                    line, order, declared.size() + 1));
            }
            if (order > kMaxOrder) {
                throw fail(line_number, fmt::format(
                    "the model has order {} or more, and this decoder reads up to {}-grams; build a "
                    "{}-gram (ngram_lm.py --order {})", order, kMaxOrder, kMaxOrder, kMaxOrder));
            }
            declared.push_back(count);
            continue;
        }
        if (line.front() == '\\') {
            if (line == "\\end\\") {
                if (section != declared.size()) {
                    throw fail(line_number, fmt::format(
                        "\\end\\ after the \\{}-grams: section, but the header declares order {}",
                        section, declared.size()));
                }
                close_section(line_number);
                part = Part::kEnd;
                continue;
            }
            const std::uint32_t next = section_header_order(line);
            if (next == 0) throw fail(line_number, fmt::format("unexpected line '{}'", line));
            if (declared.empty()) {
                throw fail(line_number, "no 'ngram N=COUNT' lines between \\data\\ and the first section");
            }
            if (next != section + 1 || next > declared.size()) {
                throw fail(line_number, fmt::format(
                    "section \\{}-grams: where \\{}-grams: comes next (the header declares order {})",
                    next, section + 1, declared.size()));
            }
            close_section(line_number);
            section = next;
            listed = 0;
            section_line = line_number;
            part = Part::kEntries;
            continue;
        }
        if (part != Part::kEntries) {
            throw fail(line_number, fmt::format("'{}' where 'ngram N=COUNT' or '\\1-grams:' belongs", line));
        }

        // An entry: log10 p, `section` words, and a log10 backoff below the highest order.
        const std::size_t count = split_fields(line, fields);
        const std::size_t order = declared.size();
        double backoff = 0.0;
        bool has_backoff = false;
        if (count == section + 2 && section < order && parse_number(fields[section + 1], backoff)) {
            has_backoff = true;
        } else if (count != section + 1) {
            throw fail(line_number, fmt::format(
                "'{}' has {} fields; an entry of the \\{}-grams: section is a log10 probability, {} "
                "word{}{}", line, count, section, section, section == 1 ? "" : "s",
                section < order ? " and an optional log10 backoff weight" : ""));
        }
        double log10_prob = 0.0;
        if (!parse_number(fields[0], log10_prob)) {
            throw fail(line_number, fmt::format("the log10 probability '{}' is not a number", fields[0]));
        }
        if (!std::isfinite(log10_prob) || log10_prob > 0.0) {
            throw fail(line_number, fmt::format(
                "the log10 probability {} is not a finite number <= 0 (a probability of at most 1)",
                fields[0]));
        }
        if (has_backoff && !std::isfinite(backoff)) {
            throw fail(line_number, fmt::format("the log10 backoff weight {} is not finite",
                                                fields[section + 1]));
        }
        std::array<WordId, kMaxOrder> ids{};
        for (std::size_t k = 0; section > 1 && k < section; ++k) {
            const std::string_view word = fields[k + 1];
            ids[k] = id_of(word);
            if (ids[k] == unknown_ && word != kUnknown) {
                throw fail(line_number, fmt::format(
                    "'{}' has no \\1-grams: entry, which every word of a longer n-gram needs", word));
            }
        }
        const Entry entry{log10_prob, backoff};
        bool fresh = true;
        if (section == 1) {
            const std::string_view word = fields[1];
            if (word != kSentenceStart && word != kSentenceEnd && word != kUnknown) {
                for (const char c : word) {
                    if (!allowed[static_cast<unsigned char>(c)]) {
                        throw fail(line_number, fmt::format(
                            "the word '{}' holds '{}', which the recogniser cannot spell (its "
                            "alphabet is \"{}\"); normalise the LM's text to that alphabet "
                            "(models/train/asr/text.py normalise()) and rebuild it",
                            word, c, alphabet));
                    }
                }
            }
            if (unigrams_.size() >= (WordId{1} << kIdBits)) {
                throw fail(line_number, fmt::format("more than {} words; prune the vocabulary",
                                                    WordId{1} << kIdBits));
            }
            const auto id = static_cast<WordId>(unigrams_.size());
            fresh = ids_.emplace(std::string(word), id).second;
            if (fresh) {
                unigrams_.push_back(entry);
                longest_word_bytes_ = std::max(longest_word_bytes_, word.size());
                if (word == kSentenceStart) sentence_start_ = id;
                if (word == kUnknown) unknown_ = id;
            }
        } else if (section == 2) {
            fresh = bigrams_.emplace(key(ids[0], ids[1]), entry).second;
        } else {
            fresh = trigrams_.emplace(key(ids[0], ids[1], ids[2]), entry).second;
        }
        if (!fresh) throw fail(line_number, fmt::format("'{}' is listed twice", line));
        ++listed;
    }

    if (part == Part::kPreamble) {
        throw std::invalid_argument(fmt::format(
            "{}: no \\data\\ line, so this is not an ARPA language model; {}", source_, kRebuild));
    }
    if (part != Part::kEnd) {
        throw std::invalid_argument(fmt::format(
            "{}: ends at line {} before \\end\\ ({}); the file is truncated: copy or rebuild it. {}",
            source_, line_number,
            section == 0 ? std::string("no n-gram section began")
                         : fmt::format("{} of the {} entries of the \\{}-grams: section were read",
                                       listed, declared[section - 1], section),
            kRebuild));
    }
    order_ = static_cast<std::uint32_t>(declared.size());
    if (sentence_start_ == kNoWord || unknown_ == kNoWord) {
        throw std::invalid_argument(fmt::format(
            "{}: has no {} unigram; the decoder needs <s> to start a sentence and <unk> to score "
            "words outside the model (ngram_lm.py writes both)", source_,
            sentence_start_ == kNoWord ? kSentenceStart : kUnknown));
    }
}

NgramLanguageModel::WordId NgramLanguageModel::id_of(std::string_view word) const noexcept {
    const auto found = ids_.find(word);
    return found == ids_.end() ? unknown_ : found->second;
}

double NgramLanguageModel::log10_prob(WordId older, WordId newer, WordId word) const noexcept {
    // ARPA backoff: the longest context with an entry; each shorter step adds the weight of
    // the context it leaves. The additions run in the same order as ngram_lm.log10_prob.
    double backoff = 0.0;
    if (order_ >= 3 && older != kNoWord && newer != kNoWord) {
        if (const auto found = trigrams_.find(key(older, newer, word)); found != trigrams_.end()) {
            return backoff + found->second.log10_prob;
        }
        if (const auto context = bigrams_.find(key(older, newer)); context != bigrams_.end()) {
            backoff += context->second.log10_backoff;
        }
    }
    if (order_ >= 2 && newer != kNoWord) {
        if (const auto found = bigrams_.find(key(newer, word)); found != bigrams_.end()) {
            return backoff + found->second.log10_prob;
        }
        backoff += unigrams_[newer].log10_backoff;
    }
    return backoff + unigrams_[word].log10_prob;
}

std::size_t NgramLanguageModel::ngram_count(std::uint32_t k) const noexcept {
    switch (k) {
        case 1: return unigrams_.size();
        case 2: return bigrams_.size();
        case 3: return trigrams_.size();
        default: return 0;
    }
}

}  // namespace statestream::engine
