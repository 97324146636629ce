#pragma once
// The end of a live transcription pipeline: a sink that decodes the model's per-frame scores
// (greedy CTC), reports the current segment's text whenever it grows (partial), and closes the
// segment when nothing has been emitted for a while (final; model-based endpointing) or the
// stream ends. Runs on the non-real-time pool, like every sink.

#include <functional>
#include <string>
#include <vector>

#include "engine/ctc_greedy_decoder.hpp"
#include "engine/io/block_sink.hpp"

namespace statestream::engine {

struct TranscriptEvents {
    std::function<void(const std::string& text)> partial;              // the open segment so far
    std::function<void(const std::vector<TimedWord>& words)> final;    // a closed segment
};

class TranscriptSink final : public io::BlockSink {
public:
    // Thread: setup. labels: the model's (blank first); frame_seconds: one model step;
    // time_offset_seconds: the front-end's delay; endpoint_seconds: the silence (no emission)
    // that closes a segment.
    TranscriptSink(std::vector<std::string> labels, double frame_seconds,
                   double time_offset_seconds, double endpoint_seconds, TranscriptEvents events);

    void write(std::span<const float> block) override;
    // Closes the open segment, if any.
    void finish() override;
    void truncate_to(std::uint64_t) override {}
    [[nodiscard]] std::string describe() const override;

private:
    void close_segment();
    [[nodiscard]] std::string open_text() const;

    CtcGreedyDecoder decoder_;
    double frame_seconds_;
    std::size_t endpoint_frames_;
    TranscriptEvents events_;
    std::size_t closed_words_ = 0;  // words of the decoder already in a final
    std::string last_partial_;
};

}  // namespace statestream::engine
