#pragma once
// A word n-gram language model (orders 1 to 3) read from an ARPA file, for the CTC beam search
// (engine/ctc_prefix_beam_decoder.hpp). The shipped one is data/models/transcriber.lm.arpa,
// interpolated modified Kneser-Ney by models/train/asr/ngram_lm.py; any backoff ARPA model
// whose words the recogniser can spell works.
//
// Read-only after loading, so one model serves every stream. Scoring is a few hash lookups
// on integer keys: it neither allocates nor throws.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace statestream::engine {

class NgramLanguageModel {
public:
    using WordId = std::uint32_t;
    static constexpr WordId kNoWord = 0xFFFFFFFFu;  // an absent context word
    static constexpr std::uint32_t kMaxOrder = 3;

    // Thread: setup (reads the file, allocates). alphabet: every character a word may hold
    // (the recogniser's labels but the blank and the space); <s>, </s> and <unk> are the only
    // other words allowed. Throws std::invalid_argument naming the file, the line and the fix
    // for anything that is not a well-formed ARPA model of order 1..3 over that alphabet, with
    // a <s> and a <unk> unigram.
    NgramLanguageModel(const std::filesystem::path& path, std::string_view alphabet);

    // Thread: any. The word's id; unknown() for a word the model does not hold.
    [[nodiscard]] WordId id_of(std::string_view word) const noexcept;
    // Thread: any. log10 p(word | older newer) by ARPA backoff; older and newer may be kNoWord
    // (a shorter context, as at the start of a sentence), and a context longer than the order
    // allows is shortened. word must be an id of this model.
    [[nodiscard]] double log10_prob(WordId older, WordId newer, WordId word) const noexcept;

    [[nodiscard]] WordId sentence_start() const noexcept { return sentence_start_; }
    [[nodiscard]] WordId unknown() const noexcept { return unknown_; }
    [[nodiscard]] std::uint32_t order() const noexcept { return order_; }
    [[nodiscard]] std::size_t vocabulary_size() const noexcept { return unigrams_.size(); }
    // Entries of order k (1-based).
    [[nodiscard]] std::size_t ngram_count(std::uint32_t k) const noexcept;
    // Bytes of the longest word: a longer one cannot be in the model.
    [[nodiscard]] std::size_t longest_word_bytes() const noexcept { return longest_word_bytes_; }
    [[nodiscard]] const std::string& source() const noexcept { return source_; }

private:
    struct Entry {
        double log10_prob = 0.0;
        double log10_backoff = 0.0;
    };
    // Word ids are below 2^21, so a trigram's three ids pack into one 64-bit key.
    static constexpr unsigned kIdBits = 21;
    static std::uint64_t key(WordId a, WordId b) noexcept { return (std::uint64_t{a} << kIdBits) | b; }
    static std::uint64_t key(WordId a, WordId b, WordId c) noexcept {
        return (std::uint64_t{a} << (2 * kIdBits)) | (std::uint64_t{b} << kIdBits) | c;
    }

    struct WordHash {
        using is_transparent = void;  // lookups by string_view, without building a string
        std::size_t operator()(std::string_view word) const noexcept {
            return std::hash<std::string_view>{}(word);
        }
    };

    std::string source_;
    std::uint32_t order_ = 0;
    std::unordered_map<std::string, WordId, WordHash, std::equal_to<>> ids_;
    std::vector<Entry> unigrams_;                     // by word id
    std::unordered_map<std::uint64_t, Entry> bigrams_;
    std::unordered_map<std::uint64_t, Entry> trigrams_;
    WordId sentence_start_ = kNoWord;
    WordId unknown_ = kNoWord;
    std::size_t longest_word_bytes_ = 0;
};

}  // namespace statestream::engine
