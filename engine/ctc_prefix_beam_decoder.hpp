#pragma once
// CTC prefix beam search over a stream of per-frame scores, with an optional word n-gram LM
// (Hannun et al. 2014, arXiv:1408.2873, algorithm 1, in the log domain). The reference it must
// agree with, text and scores, is models/train/asr/ctc_beam.py; its docstring states the rules
// (pruning, canonical spaces, where the LM applies, ties, the commit of old disagreements),
// and tests/engine/test_ctc_beam_decoder.cpp holds the two together with a golden fixture.
//
// Every buffer is sized in the constructor; push() allocates only when it settles words into
// the transcript (as the greedy decoder appends them). Runs beside the real-time path, on the
// thread that drains the model's outputs, once per 10 ms frame per stream.

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/ctc_beam_settings.hpp"
#include "engine/ctc_decoder.hpp"
#include "engine/ngram_language_model.hpp"

namespace statestream::engine {

class CtcPrefixBeamDecoder final : public CtcDecoder {
public:
    // Thread: setup. labels[0] is the blank (""); " " separates words (the LM scores them);
    // every other label is the text it adds. frame_seconds and time_offset_seconds as for
    // CtcGreedyDecoder. lm may be null: a plain prefix beam search, and settings' LM weight and
    // word bonus are unused. Throws std::invalid_argument for bad labels or settings.
    CtcPrefixBeamDecoder(std::vector<std::string> labels, double frame_seconds,
                         double time_offset_seconds, const CtcBeamSettings& settings,
                         std::shared_ptr<const NgramLanguageModel> lm);

    // Thread: decoder. labels().size() scores, logits or log-probabilities (log-softmaxed here
    // either way). A frame holding NaN or +inf is skipped (counted in skipped_frames()).
    void push(std::span<const float> scores) override;

    [[nodiscard]] const std::vector<std::string>& labels() const noexcept override { return labels_; }
    [[nodiscard]] std::size_t frames() const noexcept override { return frames_; }
    [[nodiscard]] std::string text() const override;
    // The best hypothesis' words: times from the frames that first appended their first and
    // last characters.
    [[nodiscard]] std::vector<TimedWord> words() const override;
    [[nodiscard]] std::size_t frames_since_emission() const noexcept override;
    [[nodiscard]] std::string_view name() const noexcept override { return lm_ ? "beam+lm" : "beam"; }

    void end_segment() override;
    void reset() override;

    // The best hypothesis' score (CTC ln p plus the LM's weighted ln p and word bonuses, its
    // open word included) and its acoustic part alone, as ctc_beam.Hypothesis has them.
    [[nodiscard]] double best_score() const noexcept { return best_score_; }
    [[nodiscard]] double best_log_p() const noexcept;
    [[nodiscard]] std::size_t hypotheses() const noexcept { return count_; }
    [[nodiscard]] std::size_t skipped_frames() const noexcept { return skipped_frames_; }
    [[nodiscard]] const CtcBeamSettings& settings() const noexcept { return settings_; }

    // The characters words are spelled with: every label but the blank and the space, for
    // NgramLanguageModel's alphabet check.
    [[nodiscard]] static std::string alphabet_of(const std::vector<std::string>& labels);

private:
    using WordId = NgramLanguageModel::WordId;
    using Label = std::uint16_t;

    // One prefix. Its labels past the committed part, with the frame that first appended
    // each, and its open word's bytes live in the bank's arrays at its slot.
    struct Hypothesis {
        double log_p_blank = 0.0;   // ln p of its alignments ending in a blank
        double log_p_label = 0.0;   // ... ending in its last label
        double lm_score = 0.0;      // completed words: lm_weight * ln p + word_bonus each
        std::uint64_t hash = 0;     // of its whole label sequence
        std::int32_t last_label = -1;  // -1: the empty prefix
        std::uint32_t pending = 0;     // labels past the committed part
        std::uint32_t word_bytes = 0;  // the open word's; past word_capacity_ it is not in the LM
        WordId older = NgramLanguageModel::kNoWord;  // the two words before the open one
        WordId newer = NgramLanguageModel::kNoWord;
    };
    struct Bank {
        std::vector<Hypothesis> hypotheses;  // {beam}, best first by score
        std::vector<Label> labels;           // {beam, max_pending_labels + 1}
        std::vector<std::uint32_t> frames;   // {beam, max_pending_labels + 1}
        std::vector<char> words;             // {beam, word_capacity_}
    };
    // The next frame's prefixes before pruning: a current prefix, kept or extended by a label.
    struct Candidate {
        double log_p_blank = 0.0;
        double log_p_label = 0.0;
        double lm_score = 0.0;
        double score = 0.0;
        std::uint64_t hash = 0;
        std::uint32_t parent = 0;
        std::int32_t label = -1;  // -1: the parent's prefix as it is
        WordId completed = NgramLanguageModel::kNoWord;  // the word a space completes
    };

    [[nodiscard]] double open_word_score(const Bank& bank, std::size_t slot) const noexcept;
    [[nodiscard]] double word_score(WordId older, WordId newer, WordId word) const noexcept;
    [[nodiscard]] WordId open_word_id(const Bank& bank, std::size_t slot) const noexcept;
    [[nodiscard]] bool candidate_before(std::uint32_t a, std::uint32_t b) const noexcept;
    [[nodiscard]] bool hypothesis_labels_before(std::size_t a, std::size_t b) const noexcept;
    [[nodiscard]] std::int32_t find_hypothesis(std::uint64_t hash, std::size_t parent, Label label) const noexcept;
    void choose_best() noexcept;
    void commit_settled_labels();
    void commit_label(Label label, std::uint32_t frame);
    void append_words(std::vector<TimedWord>& words, bool& in_word, Label label, std::uint32_t frame) const;
    void start_empty() noexcept;

    std::vector<std::string> labels_;
    std::int32_t space_ = -1;  // index of " ", -1 when there is none
    double frame_seconds_;
    double offset_seconds_;
    CtcBeamSettings settings_;
    std::shared_ptr<const NgramLanguageModel> lm_;
    std::size_t stride_;          // max_pending_labels + 1: a frame adds a label before the commit
    std::size_t word_capacity_;   // bytes of the LM's longest word

    std::array<Bank, 2> banks_;
    std::size_t current_ = 0;     // banks_[current_] holds the live hypotheses
    std::size_t count_ = 0;
    std::vector<double> log_probs_;          // {labels}, this frame's
    std::vector<std::uint32_t> ranked_;      // {labels}
    std::vector<Label> extend_;              // {prune_top_k}
    std::vector<Candidate> candidates_;      // {beam * (prune_top_k + 1)}
    std::vector<std::uint32_t> order_;       // {beam * (prune_top_k + 1)}
    std::vector<std::int32_t> slot_of_hash_; // open addressing, a power of two >= 2 beam

    std::size_t best_ = 0;
    double best_score_ = 0.0;
    std::vector<TimedWord> committed_words_;  // the segment's settled words
    bool committed_in_word_ = false;

    std::size_t frames_ = 0;
    std::size_t skipped_frames_ = 0;
    std::uint64_t shown_hash_ = 0;            // the best hypothesis' after the last frame
    std::size_t last_change_frame_ = 0;
    bool changed_any_ = false;
};

}  // namespace statestream::engine
