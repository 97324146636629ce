#pragma once
// Regression deltas over +-2 frames (docs/features.md, "Deltas"), streaming: the delta of frame
// m needs frames m+1 and m+2, so it is emitted when frame m+2 arrives (latency 2 frames).
// Frames before the first are copies of the first.

#include <cstddef>
#include <span>
#include <vector>

namespace statestream::dsp {

class DeltaFeatures {
public:
    static constexpr std::size_t kLatencyFrames = 2;

    // Thread: setup.
    explicit DeltaFeatures(std::size_t features);

    [[nodiscard]] std::size_t features() const noexcept { return features_; }

    // Thread: real-time. frame.size() == delta.size() == features(); delta is that of the frame
    // kLatencyFrames before this one.
    void process(std::span<const float> frame, std::span<float> delta) noexcept;

    // The 4 previous frames and whether any frame has arrived.
    [[nodiscard]] std::size_t state_floats() const noexcept { return history_.size() + 1; }
    void save_state(std::span<float> out) const noexcept;
    void restore_state(std::span<const float> in) noexcept;
    void reset() noexcept;

private:
    std::size_t features_;
    std::vector<float> history_;  // frames m-4 .. m-1, oldest first, features_ each
    bool started_ = false;
};

}  // namespace statestream::dsp
