#include "engine/transcript_sink.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/core.h>

#include "engine/ctc_greedy_decoder.hpp"

namespace statestream::engine {

TranscriptSink::TranscriptSink(std::unique_ptr<CtcDecoder> decoder, double frame_seconds,
                               double endpoint_seconds, TranscriptEvents events)
    : decoder_(std::move(decoder)),
      frame_seconds_(frame_seconds),
      endpoint_frames_(static_cast<std::size_t>(std::lround(endpoint_seconds / frame_seconds))),
      events_(std::move(events)) {
    if (!decoder_) throw std::invalid_argument("TranscriptSink needs a CTC decoder");
}

TranscriptSink::TranscriptSink(std::vector<std::string> labels, double frame_seconds,
                               double time_offset_seconds, double endpoint_seconds,
                               TranscriptEvents events)
    : TranscriptSink(std::make_unique<CtcGreedyDecoder>(std::move(labels), frame_seconds,
                                                        time_offset_seconds),
                     frame_seconds, endpoint_seconds, std::move(events)) {}

// A closed segment's words are final: the decoder starts the next segment afresh, so a beam
// search cannot revise what was already printed as final.
void TranscriptSink::close_segment() {
    const std::vector<TimedWord> words = decoder_->words();
    if (!words.empty() && events_.final) events_.final(words);
    decoder_->end_segment();
    last_partial_.clear();
}

void TranscriptSink::write(std::span<const float> block) {
    const std::size_t dim = decoder_->labels().size();
    for (std::size_t at = 0; at + dim <= block.size(); at += dim) {
        decoder_->push(block.subspan(at, dim));
        ++vectors_written_;
        if (decoder_->frames_since_emission() == 0) {
            std::string text = decoder_->text();
            if (text != last_partial_) {
                last_partial_ = std::move(text);
                if (events_.partial && !last_partial_.empty()) events_.partial(last_partial_);
            }
        } else if (decoder_->frames_since_emission() == endpoint_frames_) {
            close_segment();
        }
    }
}

void TranscriptSink::finish() { close_segment(); }

std::string TranscriptSink::describe() const {
    return fmt::format("transcript ({} CTC; a segment ends after {} ms without new text)",
                       decoder_->name(), static_cast<double>(endpoint_frames_) * frame_seconds_ * 1e3);
}

}  // namespace statestream::engine
