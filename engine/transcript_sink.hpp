#pragma once
// The end of a live transcription pipeline: a sink that decodes the model's per-frame scores
// (any CtcDecoder: greedy, or beam search with a word LM), reports the current segment's text
// whenever it changes (partial), and closes the segment when its text has not changed for a
// while (final; model-based endpointing) or the stream ends. Runs on the non-real-time pool,
// like every sink.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/ctc_decoder.hpp"
#include "engine/io/block_sink.hpp"

namespace statestream::engine {

struct TranscriptEvents {
    std::function<void(const std::string& text)> partial;              // the open segment so far
    std::function<void(const std::vector<TimedWord>& words)> final;    // a closed segment
};

class TranscriptSink final : public io::BlockSink {
public:
    // Thread: setup. decoder: this stream's own (its labels are the model's outputs);
    // frame_seconds: one model step; endpoint_seconds: the time without new text that closes
    // a segment.
    TranscriptSink(std::unique_ptr<CtcDecoder> decoder, double frame_seconds,
                   double endpoint_seconds, TranscriptEvents events);
    // Thread: setup. Greedy decoding of labels (the model's, blank first); time_offset_seconds:
    // the front-end's delay.
    TranscriptSink(std::vector<std::string> labels, double frame_seconds,
                   double time_offset_seconds, double endpoint_seconds, TranscriptEvents events);

    void write(std::span<const float> block) override;
    // Closes the open segment, if any.
    void finish() override;
    void truncate_to(std::uint64_t) override {}
    [[nodiscard]] std::string describe() const override;

private:
    void close_segment();

    std::unique_ptr<CtcDecoder> decoder_;
    double frame_seconds_;
    std::size_t endpoint_frames_;
    TranscriptEvents events_;
    std::string last_partial_;
};

}  // namespace statestream::engine
