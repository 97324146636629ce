#include "engine/ctc_greedy_decoder.hpp"

#include <algorithm>
#include <stdexcept>

namespace statestream::engine {

CtcGreedyDecoder::CtcGreedyDecoder(std::vector<std::string> labels, double frame_seconds,
                                   double time_offset_seconds)
    : labels_(std::move(labels)), frame_seconds_(frame_seconds), offset_seconds_(time_offset_seconds) {
    if (labels_.size() < 2 || !labels_.front().empty()) {
        throw std::invalid_argument("CTC labels need the blank (\"\") first and at least one symbol");
    }
    space_ = static_cast<std::size_t>(std::find(labels_.begin(), labels_.end(), " ") - labels_.begin());
    words_.reserve(256);
}

void CtcGreedyDecoder::push(std::span<const float> scores) {
    const std::size_t best = static_cast<std::size_t>(
        std::max_element(scores.begin(), scores.end()) - scores.begin());
    const std::size_t frame = frames_++;
    if (best == previous_ || best == 0) {
        previous_ = best;
        return;
    }
    previous_ = best;
    emitted_any_ = true;
    last_emission_frame_ = frame;
    const double start = std::max(0.0, static_cast<double>(frame) * frame_seconds_ - offset_seconds_);
    const double end = start + frame_seconds_;
    if (best == space_) {
        in_word_ = false;
        return;
    }
    if (!in_word_) {
        words_.push_back({std::string(), start, end});
        in_word_ = true;
    }
    words_.back().text += labels_[best];
    words_.back().end_s = end;
}

std::string CtcGreedyDecoder::text() const {
    std::string text;
    for (const auto& word : words_) {
        if (!text.empty()) text += ' ';
        text += word.text;
    }
    return text;
}

std::size_t CtcGreedyDecoder::frames_since_emission() const noexcept {
    return emitted_any_ ? frames_ - 1 - last_emission_frame_ : frames_;
}

void CtcGreedyDecoder::end_segment() {
    // A character after the pause starts a new word, even when the label before it was one.
    in_word_ = false;
    words_.clear();
}

void CtcGreedyDecoder::reset() {
    frames_ = 0;
    previous_ = 0;
    last_emission_frame_ = 0;
    emitted_any_ = false;
    in_word_ = false;
    words_.clear();
}

}  // namespace statestream::engine
