#include "engine/ctc_prefix_beam_decoder.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <stdexcept>

#include <fmt/core.h>

namespace statestream::engine {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
constexpr std::uint64_t kEmptyHash = 0x6a09e667f3bcc908ull;  // any fixed seed

// ln(e^a + e^b) without overflow; the same steps as ctc_beam.log_add.
double log_add(double a, double b) noexcept {
    if (a == kNegInf) return b;
    if (b == kNegInf) return a;
    const double high = a >= b ? a : b;
    const double low = a >= b ? b : a;
    return high + std::log1p(std::exp(low - high));
}

// The hash of a label sequence one label longer (splitmix64's finaliser). Only a hint: a match
// is confirmed by comparing labels.
std::uint64_t extended_hash(std::uint64_t hash, std::uint32_t label) noexcept {
    std::uint64_t z = hash + 0x9e3779b97f4a7c15ull * (label + 1u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

}  // namespace

std::string CtcPrefixBeamDecoder::alphabet_of(const std::vector<std::string>& labels) {
    std::string alphabet;
    for (std::size_t i = 1; i < labels.size(); ++i) {
        if (labels[i] != " ") alphabet += labels[i];
    }
    return alphabet;
}

CtcPrefixBeamDecoder::CtcPrefixBeamDecoder(std::vector<std::string> labels, double frame_seconds,
                                           double time_offset_seconds,
                                           const CtcBeamSettings& settings,
                                           std::shared_ptr<const NgramLanguageModel> lm)
    : labels_(std::move(labels)),
      frame_seconds_(frame_seconds),
      offset_seconds_(time_offset_seconds),
      settings_(settings),
      lm_(std::move(lm)),
      stride_(settings.max_pending_labels + std::size_t{1}),
      word_capacity_(lm_ ? lm_->longest_word_bytes() : 0) {
    if (labels_.size() < 2 || !labels_.front().empty()) {
        throw std::invalid_argument("CTC labels need the blank (\"\") first and at least one symbol");
    }
    if (labels_.size() > std::numeric_limits<Label>::max()) {
        throw std::invalid_argument(fmt::format("{} CTC labels; the beam search takes up to {}",
                                                labels_.size(), std::numeric_limits<Label>::max()));
    }
    for (std::size_t i = 1; i < labels_.size(); ++i) {
        if (labels_[i].empty()) {
            throw std::invalid_argument(fmt::format("CTC label {} is empty; only label 0, the blank, may be", i));
        }
        if (labels_[i] == " ") space_ = static_cast<std::int32_t>(i);
    }
    validate(settings_, labels_.size());

    const std::size_t beam = settings_.beam;
    for (Bank& bank : banks_) {
        bank.hypotheses.resize(beam);
        bank.labels.resize(beam * stride_);
        bank.frames.resize(beam * stride_);
        bank.words.resize(beam * word_capacity_);
    }
    log_probs_.resize(labels_.size());
    ranked_.resize(labels_.size());
    extend_.resize(settings_.prune_top_k);
    candidates_.resize(beam * (settings_.prune_top_k + std::size_t{1}));
    order_.resize(candidates_.size());
    slot_of_hash_.resize(std::bit_ceil(2 * beam));
    committed_words_.reserve(256);
    start_empty();
}

void CtcPrefixBeamDecoder::start_empty() noexcept {
    current_ = 0;
    count_ = 1;
    Hypothesis& empty = banks_[0].hypotheses[0];
    empty = Hypothesis{};
    empty.log_p_blank = 0.0;  // ln 1: nothing heard yet, a "blank" so far
    empty.log_p_label = kNegInf;
    empty.hash = kEmptyHash;
    if (lm_) empty.newer = lm_->sentence_start();
    best_ = 0;
    best_score_ = 0.0;
    shown_hash_ = kEmptyHash;
    committed_words_.clear();
    committed_in_word_ = false;
}

// --- LM ------------------------------------------------------------------------------------------

double CtcPrefixBeamDecoder::word_score(WordId older, WordId newer, WordId word) const noexcept {
    return settings_.lm_weight * std::numbers::ln10 * lm_->log10_prob(older, newer, word) +
           settings_.word_bonus;
}

NgramLanguageModel::WordId CtcPrefixBeamDecoder::open_word_id(const Bank& bank, std::size_t slot) const noexcept {
    const Hypothesis& h = bank.hypotheses[slot];
    if (h.word_bytes > word_capacity_) return lm_->unknown();  // longer than any word it holds
    return lm_->id_of(std::string_view(bank.words.data() + slot * word_capacity_, h.word_bytes));
}

double CtcPrefixBeamDecoder::open_word_score(const Bank& bank, std::size_t slot) const noexcept {
    const Hypothesis& h = bank.hypotheses[slot];
    if (!lm_ || h.last_label < 0 || h.last_label == space_) return 0.0;
    return word_score(h.older, h.newer, open_word_id(bank, slot));
}

// --- Search --------------------------------------------------------------------------------------

// Cost per frame, bounded by the settings alone (B = beam, K = prune_top_k, V = labels,
// H = max_pending_labels): ranking V labels, B (K + 1) candidates built in O(1) each with at
// most B LM lookups (spaces), a partial sort of those candidates, a copy of B (H + 1) labels and
// frames, B more LM lookups to choose the best, and a commit that shifts B (H + 1) at most.
void CtcPrefixBeamDecoder::push(std::span<const float> scores) {
    if (scores.size() != labels_.size()) {
        throw std::invalid_argument(fmt::format("a frame has {} scores for {} CTC labels",
                                                scores.size(), labels_.size()));
    }
    const auto frame = static_cast<std::uint32_t>(frames_++);
    double peak = kNegInf;
    for (const float x : scores) {
        if (std::isnan(x) || x == std::numeric_limits<float>::infinity()) {
            ++skipped_frames_;
            return;
        }
        peak = std::max(peak, static_cast<double>(x));
    }
    double total = 0.0;
    for (const float x : scores) total += std::exp(static_cast<double>(x) - peak);
    const double log_norm = peak + std::log(total);
    for (std::size_t i = 0; i < scores.size(); ++i) log_probs_[i] = static_cast<double>(scores[i]) - log_norm;
    const std::vector<double>& lp = log_probs_;

    // The labels that may extend a prefix: the top K (ties to the lower index), blank aside.
    for (std::uint32_t i = 0; i < ranked_.size(); ++i) ranked_[i] = i;
    std::partial_sort(ranked_.begin(), ranked_.begin() + settings_.prune_top_k, ranked_.end(),
                      [&](std::uint32_t a, std::uint32_t b) {
                          return lp[a] > lp[b] || (lp[a] == lp[b] && a < b);
                      });
    std::size_t n_extend = 0;
    bool space_extends = false;
    for (std::size_t i = 0; i < settings_.prune_top_k; ++i) {
        const std::uint32_t c = ranked_[i];
        if (c == 0 || lp[c] < settings_.prune_log_prob) continue;
        extend_[n_extend++] = static_cast<Label>(c);
        space_extends = space_extends || static_cast<std::int32_t>(c) == space_;
    }

    const Bank& bank = banks_[current_];
    std::fill(slot_of_hash_.begin(), slot_of_hash_.end(), -1);
    const std::size_t mask = slot_of_hash_.size() - 1;

    // The prefixes as they stand: a blank, their last label again, a space that adds no text.
    for (std::size_t i = 0; i < count_; ++i) {
        const Hypothesis& h = bank.hypotheses[i];
        const double log_p = log_add(h.log_p_blank, h.log_p_label);
        Candidate& stay = candidates_[i];
        stay = Candidate{};
        stay.parent = static_cast<std::uint32_t>(i);
        stay.hash = h.hash;
        stay.lm_score = h.lm_score;
        stay.log_p_blank = log_p + lp[0];
        stay.log_p_label = h.last_label >= 0 ? h.log_p_label + lp[static_cast<std::size_t>(h.last_label)] : kNegInf;
        if (space_extends) {
            const double space = lp[static_cast<std::size_t>(space_)];
            if (h.last_label < 0) {
                stay.log_p_blank = log_add(stay.log_p_blank, log_p + space);
            } else if (h.last_label == space_) {
                stay.log_p_label = log_add(stay.log_p_label, h.log_p_blank + space);
            }
        }
        std::size_t at = h.hash & mask;
        while (slot_of_hash_[at] >= 0) at = (at + 1) & mask;
        slot_of_hash_[at] = static_cast<std::int32_t>(i);
    }

    // Extensions; one that spells a prefix already in the beam adds to it.
    std::size_t n = count_;
    for (std::size_t i = 0; i < count_; ++i) {
        const Hypothesis& h = bank.hypotheses[i];
        const double log_p = log_add(h.log_p_blank, h.log_p_label);
        for (std::size_t e = 0; e < n_extend; ++e) {
            const Label c = extend_[e];
            const bool is_space = static_cast<std::int32_t>(c) == space_;
            if (is_space && (h.last_label < 0 || h.last_label == space_)) continue;
            const double extended = (static_cast<std::int32_t>(c) == h.last_label ? h.log_p_blank : log_p) + lp[c];
            if (extended == kNegInf) continue;  // a repeat straight after the label
            const std::uint64_t hash = extended_hash(h.hash, c);
            if (const std::int32_t into = find_hypothesis(hash, i, c); into >= 0) {
                Candidate& target = candidates_[static_cast<std::size_t>(into)];
                target.log_p_label = log_add(target.log_p_label, extended);
                continue;
            }
            Candidate& grown = candidates_[n++];
            grown = Candidate{};
            grown.parent = static_cast<std::uint32_t>(i);
            grown.label = c;
            grown.hash = hash;
            grown.log_p_blank = kNegInf;
            grown.log_p_label = extended;
            grown.lm_score = h.lm_score;
            if (is_space && lm_) {
                grown.completed = open_word_id(bank, i);
                grown.lm_score += word_score(h.older, h.newer, grown.completed);
            }
        }
    }

    for (std::size_t i = 0; i < n; ++i) {
        Candidate& candidate = candidates_[i];
        candidate.score = log_add(candidate.log_p_blank, candidate.log_p_label) + candidate.lm_score;
        order_[i] = static_cast<std::uint32_t>(i);
    }
    const std::size_t kept = std::min<std::size_t>(settings_.beam, n);
    std::partial_sort(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(kept),
                      order_.begin() + static_cast<std::ptrdiff_t>(n),
                      [this](std::uint32_t a, std::uint32_t b) { return candidate_before(a, b); });

    // The survivors, into the other bank.
    Bank& next = banks_[1 - current_];
    for (std::size_t r = 0; r < kept; ++r) {
        const Candidate& candidate = candidates_[order_[r]];
        const std::size_t from = candidate.parent;
        const Hypothesis& parent = bank.hypotheses[from];
        Hypothesis& h = next.hypotheses[r];
        h = parent;
        h.log_p_blank = candidate.log_p_blank;
        h.log_p_label = candidate.log_p_label;
        h.lm_score = candidate.lm_score;
        h.hash = candidate.hash;
        std::copy_n(bank.labels.begin() + static_cast<std::ptrdiff_t>(from * stride_), parent.pending,
                    next.labels.begin() + static_cast<std::ptrdiff_t>(r * stride_));
        std::copy_n(bank.frames.begin() + static_cast<std::ptrdiff_t>(from * stride_), parent.pending,
                    next.frames.begin() + static_cast<std::ptrdiff_t>(r * stride_));
        std::copy_n(bank.words.begin() + static_cast<std::ptrdiff_t>(from * word_capacity_),
                    std::min<std::size_t>(parent.word_bytes, word_capacity_),
                    next.words.begin() + static_cast<std::ptrdiff_t>(r * word_capacity_));
        if (candidate.label < 0) continue;
        const auto label = static_cast<Label>(candidate.label);
        next.labels[r * stride_ + h.pending] = label;
        next.frames[r * stride_ + h.pending] = frame;
        ++h.pending;
        h.last_label = candidate.label;
        if (candidate.label == space_) {
            h.older = parent.newer;
            h.newer = candidate.completed;
            h.word_bytes = 0;
            continue;
        }
        const std::string& spelled = labels_[label];
        if (h.word_bytes + spelled.size() <= word_capacity_) {
            std::memcpy(next.words.data() + r * word_capacity_ + h.word_bytes, spelled.data(), spelled.size());
        }
        h.word_bytes += static_cast<std::uint32_t>(spelled.size());
    }
    current_ = 1 - current_;
    count_ = kept;

    choose_best();
    commit_settled_labels();
    const std::uint64_t shown = banks_[current_].hypotheses[best_].hash;
    if (shown != shown_hash_) {
        shown_hash_ = shown;
        last_change_frame_ = frame;
        changed_any_ = true;
    }
}

std::int32_t CtcPrefixBeamDecoder::find_hypothesis(std::uint64_t hash, std::size_t parent,
                                                   Label label) const noexcept {
    const Bank& bank = banks_[current_];
    const Hypothesis& p = bank.hypotheses[parent];
    const std::size_t mask = slot_of_hash_.size() - 1;
    for (std::size_t at = hash & mask; slot_of_hash_[at] >= 0; at = (at + 1) & mask) {
        const auto slot = static_cast<std::size_t>(slot_of_hash_[at]);
        const Hypothesis& m = bank.hypotheses[slot];
        if (m.hash != hash || m.pending != p.pending + 1 || m.last_label != label) continue;
        const auto m_labels = bank.labels.begin() + static_cast<std::ptrdiff_t>(slot * stride_);
        const auto p_labels = bank.labels.begin() + static_cast<std::ptrdiff_t>(parent * stride_);
        if (std::equal(p_labels, p_labels + p.pending, m_labels)) return static_cast<std::int32_t>(slot);
    }
    return -1;
}

// Higher score first; on an exact tie, the smaller label sequence (as the reference's sort).
bool CtcPrefixBeamDecoder::candidate_before(std::uint32_t a, std::uint32_t b) const noexcept {
    const Candidate& x = candidates_[a];
    const Candidate& y = candidates_[b];
    if (x.score != y.score) return x.score > y.score;
    const Bank& bank = banks_[current_];
    const std::size_t x_parent = bank.hypotheses[x.parent].pending;
    const std::size_t y_parent = bank.hypotheses[y.parent].pending;
    const std::size_t x_length = x_parent + (x.label >= 0 ? 1 : 0);
    const std::size_t y_length = y_parent + (y.label >= 0 ? 1 : 0);
    const auto at = [&](const Candidate& c, std::size_t parent_length, std::size_t i) -> std::int32_t {
        return i < parent_length ? bank.labels[c.parent * stride_ + i] : c.label;
    };
    for (std::size_t i = 0; i < std::min(x_length, y_length); ++i) {
        const std::int32_t u = at(x, x_parent, i);
        const std::int32_t v = at(y, y_parent, i);
        if (u != v) return u < v;
    }
    return x_length < y_length;
}

bool CtcPrefixBeamDecoder::hypothesis_labels_before(std::size_t a, std::size_t b) const noexcept {
    const Bank& bank = banks_[current_];
    const auto x = bank.labels.begin() + static_cast<std::ptrdiff_t>(a * stride_);
    const auto y = bank.labels.begin() + static_cast<std::ptrdiff_t>(b * stride_);
    return std::lexicographical_compare(x, x + bank.hypotheses[a].pending, y, y + bank.hypotheses[b].pending);
}

// The best is ranked with its open word scored, as if it ended now; the search itself scores
// a word only once a space completes it.
void CtcPrefixBeamDecoder::choose_best() noexcept {
    const Bank& bank = banks_[current_];
    best_ = 0;
    best_score_ = kNegInf;
    for (std::size_t i = 0; i < count_; ++i) {
        const Hypothesis& h = bank.hypotheses[i];
        const double score = log_add(h.log_p_blank, h.log_p_label) + h.lm_score + open_word_score(bank, i);
        if (i == 0 || score > best_score_ || (score == best_score_ && hypothesis_labels_before(i, best_))) {
            best_ = i;
            best_score_ = score;
        }
    }
}

// While a hypothesis runs more than max_pending_labels past the committed part, the best
// hypothesis' next label is settled and those that disagree with it are dropped.
void CtcPrefixBeamDecoder::commit_settled_labels() {
    Bank& bank = banks_[current_];
    const std::size_t limit = settings_.max_pending_labels;
    for (;;) {
        std::size_t longest = 0;
        for (std::size_t i = 0; i < count_; ++i) longest = std::max<std::size_t>(longest, bank.hypotheses[i].pending);
        if (longest <= limit) return;
        const Hypothesis best = bank.hypotheses[best_];
        const bool settle = best.pending > 0;
        const Label settled = bank.labels[best_ * stride_];
        if (settle) commit_label(settled, bank.frames[best_ * stride_]);
        std::size_t kept = 0;
        for (std::size_t i = 0; i < count_; ++i) {
            const Hypothesis& h = bank.hypotheses[i];
            const bool keep = settle ? h.pending > 0 && bank.labels[i * stride_] == settled : h.pending <= limit;
            if (!keep) continue;
            const std::size_t shift = settle ? 1 : 0;
            if (i == best_) best_ = kept;
            // Forward copies within one slot (kept == i, shift 1) are safe: the target starts
            // before the source.
            const std::size_t length = h.pending - shift;
            if (kept != i || shift != 0) {
                std::copy_n(bank.labels.begin() + static_cast<std::ptrdiff_t>(i * stride_ + shift), length,
                            bank.labels.begin() + static_cast<std::ptrdiff_t>(kept * stride_));
                std::copy_n(bank.frames.begin() + static_cast<std::ptrdiff_t>(i * stride_ + shift), length,
                            bank.frames.begin() + static_cast<std::ptrdiff_t>(kept * stride_));
            }
            if (kept != i) {
                std::copy_n(bank.words.begin() + static_cast<std::ptrdiff_t>(i * word_capacity_),
                            std::min<std::size_t>(h.word_bytes, word_capacity_),
                            bank.words.begin() + static_cast<std::ptrdiff_t>(kept * word_capacity_));
                bank.hypotheses[kept] = h;
            }
            bank.hypotheses[kept].pending = static_cast<std::uint32_t>(length);
            ++kept;
        }
        count_ = kept;
    }
}

void CtcPrefixBeamDecoder::commit_label(Label label, std::uint32_t frame) {
    append_words(committed_words_, committed_in_word_, label, frame);
}

void CtcPrefixBeamDecoder::append_words(std::vector<TimedWord>& words, bool& in_word, Label label,
                                        std::uint32_t frame) const {
    if (static_cast<std::int32_t>(label) == space_) {
        in_word = false;
        return;
    }
    const double start = std::max(0.0, static_cast<double>(frame) * frame_seconds_ - offset_seconds_);
    if (!in_word) {
        words.push_back({std::string(), start, start + frame_seconds_});
        in_word = true;
    }
    words.back().text += labels_[label];
    words.back().end_s = start + frame_seconds_;
}

// --- Results -------------------------------------------------------------------------------------

std::vector<TimedWord> CtcPrefixBeamDecoder::words() const {
    std::vector<TimedWord> words = committed_words_;
    bool in_word = committed_in_word_;
    const Bank& bank = banks_[current_];
    const std::size_t base = best_ * stride_;
    for (std::size_t i = 0; i < bank.hypotheses[best_].pending; ++i) {
        append_words(words, in_word, bank.labels[base + i], bank.frames[base + i]);
    }
    return words;
}

std::string CtcPrefixBeamDecoder::text() const {
    std::string text;
    for (const auto& word : words()) {
        if (!text.empty()) text += ' ';
        text += word.text;
    }
    return text;
}

double CtcPrefixBeamDecoder::best_log_p() const noexcept {
    const Hypothesis& h = banks_[current_].hypotheses[best_];
    return log_add(h.log_p_blank, h.log_p_label);
}

std::size_t CtcPrefixBeamDecoder::frames_since_emission() const noexcept {
    return changed_any_ ? frames_ - 1 - last_change_frame_ : frames_;
}

void CtcPrefixBeamDecoder::end_segment() { start_empty(); }

void CtcPrefixBeamDecoder::reset() {
    start_empty();
    frames_ = 0;
    skipped_frames_ = 0;
    last_change_frame_ = 0;
    changed_any_ = false;
}

}  // namespace statestream::engine
