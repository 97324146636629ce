#include "engine/transcript_sink.hpp"

#include <cmath>

#include <fmt/core.h>

namespace statestream::engine {

TranscriptSink::TranscriptSink(std::vector<std::string> labels, double frame_seconds,
                               double time_offset_seconds, double endpoint_seconds,
                               TranscriptEvents events)
    : decoder_(std::move(labels), frame_seconds, time_offset_seconds),
      frame_seconds_(frame_seconds),
      endpoint_frames_(static_cast<std::size_t>(std::lround(endpoint_seconds / frame_seconds))),
      events_(std::move(events)) {}

std::string TranscriptSink::open_text() const {
    std::string text;
    const auto& words = decoder_.words();
    for (std::size_t i = closed_words_; i < words.size(); ++i) {
        if (!text.empty()) text += ' ';
        text += words[i].text;
    }
    return text;
}

void TranscriptSink::close_segment() {
    const auto& words = decoder_.words();
    if (closed_words_ == words.size()) return;
    if (events_.final) {
        events_.final(std::vector<TimedWord>(words.begin() + static_cast<std::ptrdiff_t>(closed_words_),
                                             words.end()));
    }
    closed_words_ = words.size();
    last_partial_.clear();
}

void TranscriptSink::write(std::span<const float> block) {
    const std::size_t dim = decoder_.labels().size();
    for (std::size_t at = 0; at + dim <= block.size(); at += dim) {
        decoder_.push(block.subspan(at, dim));
        ++vectors_written_;
        if (decoder_.frames_since_emission() == 0) {
            std::string text = open_text();
            if (text != last_partial_) {
                last_partial_ = std::move(text);
                if (events_.partial && !last_partial_.empty()) events_.partial(last_partial_);
            }
        } else if (decoder_.frames_since_emission() == endpoint_frames_) {
            close_segment();
        }
    }
}

void TranscriptSink::finish() { close_segment(); }

std::string TranscriptSink::describe() const {
    return fmt::format("transcript (greedy CTC; a segment ends after {} ms without new text)",
                       static_cast<double>(endpoint_frames_) * frame_seconds_ * 1e3);
}

}  // namespace statestream::engine
