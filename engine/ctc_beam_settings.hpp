#pragma once
// The settings of the CTC prefix beam search (engine/ctc_prefix_beam_decoder.hpp) and their
// defaults, in one place: `statestream transcribe` starts from these, and the decoder's weights
// are tuned on the development set by changing the constants below.
// models/train/asr/ctc_beam.py mirrors them; models/train/asr/test_ctc_beam.py checks that the
// two agree, so change both.

#include <cmath>
#include <cstdint>
#include <stdexcept>

#include <fmt/core.h>

namespace statestream::engine {

// 64 hypotheses, chosen on the whole development set for the shipped model at the weights below
// (mean WER over clean and noisy: 12.3 % at beam 16, 10.8 % at 32, 9.7 % at 64, 9.1 % at 128).
// The cost grows linearly with the beam: about 5 us a frame at 16 and 17 us at 64 with the
// shipped LM on a 2-core VM, against about 160 us for the model step, so 64 costs a tenth of
// the chain and 128 would cost a fifth for half a point more.
inline constexpr std::uint32_t kDefaultBeam = 64;
// alpha, on the LM's natural log: the acoustic scores are natural logs, so 0.6 weighs an LM
// nat 0.6 times an acoustic one. beta, nats per word: offsets the LM's cost per word, which
// would otherwise favour few, long words (run-together ones). Both chosen on the whole
// development set (326 utterances, clean and noisy; models/train/asr/tune_decoder.py) for the
// shipped model, by mean WER over the two conditions: alpha 0.3-1.0 x beta 1-5.5 at beam 16;
// the best, 0.6 / 5.5, gives 6.8 % clean and 17.8 % noisy against 20.3 % and 31.9 % greedy,
// and the neighbours 0.45 / 4 and 0.6 / 4 are within 0.7 points: a flat optimum.
inline constexpr double kDefaultLmWeight = 0.6;
inline constexpr double kDefaultWordBonus = 5.5;
// A frame's labels that may extend a prefix: the 8 most probable (blank included) with ln p at
// least -10 (4.5e-5). A trained CTC model puts almost all of a frame's mass on one or two
// labels, so wider limits only add hypotheses that lose.
inline constexpr std::uint32_t kDefaultPruneTopK = 8;
inline constexpr double kDefaultPruneLogProb = -10.0;
// Hypotheses may disagree on at most this many trailing labels (about 8 s of speech at 15
// characters a second); older disagreements are settled in favour of the best hypothesis.
// It bounds the per-frame copy of each hypothesis and the memory of a stream of any length.
inline constexpr std::uint32_t kDefaultMaxPendingLabels = 128;

inline constexpr std::uint32_t kMaxBeam = 256;
inline constexpr std::uint32_t kMaxPendingLabelsLimit = 4096;

struct CtcBeamSettings {
    std::uint32_t beam = kDefaultBeam;                              // hypotheses kept per frame
    double lm_weight = kDefaultLmWeight;                            // alpha, times ln p_LM(word)
    double word_bonus = kDefaultWordBonus;                          // beta, nats per word
    std::uint32_t prune_top_k = kDefaultPruneTopK;                  // labels tried per frame
    double prune_log_prob = kDefaultPruneLogProb;                   // ln p below which they are not
    std::uint32_t max_pending_labels = kDefaultMaxPendingLabels;    // see kDefaultMaxPendingLabels
};

// Thread: setup. Throws std::invalid_argument naming the setting, the value and the range.
// label_count: the model's output labels (prune_top_k cannot exceed it).
inline void validate(const CtcBeamSettings& settings, std::size_t label_count) {
    if (settings.beam < 1 || settings.beam > kMaxBeam) {
        throw std::invalid_argument(fmt::format(
            "beam {} is out of range; give --beam 1..{} (1 keeps one hypothesis, {} is the "
            "default)", settings.beam, kMaxBeam, kDefaultBeam));
    }
    if (!std::isfinite(settings.lm_weight) || settings.lm_weight < 0.0) {
        throw std::invalid_argument(fmt::format(
            "LM weight {} must be a finite number >= 0; give --lm-weight A (default {}), or "
            "--lm none for no LM", settings.lm_weight, kDefaultLmWeight));
    }
    if (!std::isfinite(settings.word_bonus)) {
        throw std::invalid_argument(fmt::format(
            "word bonus {} must be a finite number of nats per word; give --word-bonus B "
            "(default {})", settings.word_bonus, kDefaultWordBonus));
    }
    if (settings.prune_top_k < 1 || settings.prune_top_k > label_count) {
        throw std::invalid_argument(fmt::format(
            "prune_top_k {} must be 1..{} (the model's labels)", settings.prune_top_k,
            label_count));
    }
    if (!std::isfinite(settings.prune_log_prob) || settings.prune_log_prob > 0.0) {
        throw std::invalid_argument(fmt::format(
            "prune_log_prob {} must be a finite natural log <= 0", settings.prune_log_prob));
    }
    if (settings.max_pending_labels < 1 || settings.max_pending_labels > kMaxPendingLabelsLimit) {
        throw std::invalid_argument(fmt::format("max_pending_labels {} must be 1..{}",
                                                settings.max_pending_labels,
                                                kMaxPendingLabelsLimit));
    }
}

}  // namespace statestream::engine
