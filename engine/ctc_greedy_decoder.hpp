#pragma once
// Greedy CTC decoding of a stream of per-frame scores: the best label per frame, repeats
// collapsed, blanks dropped. Text grows as frames arrive (the partial transcript); words carry
// the times of their first and last emitted characters, in seconds from the stream's start.
// Runs beside the real-time path (on the thread that drains the model's outputs), not in it.

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "engine/ctc_decoder.hpp"

namespace statestream::engine {

class CtcGreedyDecoder final : public CtcDecoder {
public:
    // Thread: setup. labels[0] is the blank (""); " " separates words. frame_seconds: the
    // model's step (0.01 for a 10 ms hop); time_offset_seconds is subtracted from every time
    // (the front-end's delay, so times refer to the audio).
    CtcGreedyDecoder(std::vector<std::string> labels, double frame_seconds,
                     double time_offset_seconds = 0.0);

    // Thread: decoder. One frame of scores (logits or log-probabilities), labels().size() of them.
    void push(std::span<const float> scores) override;

    [[nodiscard]] const std::vector<std::string>& labels() const noexcept override { return labels_; }
    [[nodiscard]] std::size_t frames() const noexcept override { return frames_; }
    [[nodiscard]] std::string text() const override;
    [[nodiscard]] std::vector<TimedWord> words() const override { return words_; }
    // Frames since the last character was emitted.
    [[nodiscard]] std::size_t frames_since_emission() const noexcept override;
    [[nodiscard]] std::string_view name() const noexcept override { return "greedy"; }

    void end_segment() override;
    void reset() override;

private:
    std::vector<std::string> labels_;
    std::size_t space_ = 0;  // index of " ", or labels_.size() when there is none
    double frame_seconds_;
    double offset_seconds_;
    std::size_t frames_ = 0;
    std::size_t previous_ = 0;  // last frame's best label (0: blank)
    std::size_t last_emission_frame_ = 0;
    bool emitted_any_ = false;
    bool in_word_ = false;
    std::vector<TimedWord> words_;  // the current segment's
};

}  // namespace statestream::engine
