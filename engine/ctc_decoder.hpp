#pragma once
// What transcription needs from a CTC decoder, whichever search it runs (greedy:
// engine/ctc_greedy_decoder.hpp; prefix beam search with a word LM:
// engine/ctc_prefix_beam_decoder.hpp): one frame of scores in at a time, the current best text
// and its timed words out at any frame. Both the file path (engine/transcribe_file.hpp) and the
// live sink (engine/transcript_sink.hpp) drive a decoder through this interface only.
//
// Thread: decoder, for every method: the thread that drains the model's outputs (a pool thread
// live, the caller's thread for files), never the real-time worker. One decoder per stream.

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace statestream::engine {

struct TimedWord {
    std::string text;
    double start_s = 0.0;  // the frame of its first character
    double end_s = 0.0;    // the end of the frame of its last character
};

class CtcDecoder {
public:
    virtual ~CtcDecoder() = default;

    // One frame of scores (logits or log-probabilities), labels().size() of them.
    virtual void push(std::span<const float> scores) = 0;

    [[nodiscard]] virtual const std::vector<std::string>& labels() const noexcept = 0;
    // Frames pushed since construction or reset() (end_segment() keeps counting).
    [[nodiscard]] virtual std::size_t frames() const noexcept = 0;
    // The current segment's best text: words separated by single spaces, none at the ends.
    [[nodiscard]] virtual std::string text() const = 0;
    // Its words with times in seconds from the stream's start; the last may still grow, and a
    // beam search may still revise any of them.
    [[nodiscard]] virtual std::vector<TimedWord> words() const = 0;
    // Frames since the best text last changed (for endpointing on silence).
    [[nodiscard]] virtual std::size_t frames_since_emission() const noexcept = 0;
    // Which search runs, for reports: "greedy", "beam" or "beam+lm".
    [[nodiscard]] virtual std::string_view name() const noexcept = 0;

    // Ends the current segment: text and words start empty (a beam search forgets its
    // hypotheses and starts the next words as a new sentence); the clock runs on.
    virtual void end_segment() = 0;
    // Back to the state after construction.
    virtual void reset() = 0;
};

// Makes one decoder per stream. labels: the model's (blank "" first); frame_seconds: one model
// step; time_offset_seconds: subtracted from every time (the front-end's delay). Thread: setup.
using CtcDecoderFactory = std::function<std::unique_ptr<CtcDecoder>(
    const std::vector<std::string>& labels, double frame_seconds, double time_offset_seconds)>;

}  // namespace statestream::engine
