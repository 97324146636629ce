#pragma once
// A fixed delay of whole samples: what goes in comes out `delay` pushes later (zeros first).
// The plugin delays its dry signal by the wet chain's delay with it, so that bypass and strength
// crossfade between two signals that line up sample for sample.

#include <cstddef>
#include <algorithm>
#include <vector>

namespace statestream::plugins {

class DelayLine {
public:
    // Thread: setup. delay 0 passes samples straight through.
    explicit DelayLine(std::size_t delay) : buffer_(delay, 0.0f) {}

    [[nodiscard]] std::size_t delay() const noexcept { return buffer_.size(); }

    // Thread: real-time. Returns the sample pushed `delay()` calls ago.
    float push(float sample) noexcept {
        if (buffer_.empty()) return sample;
        const float out = buffer_[head_];
        buffer_[head_] = sample;
        head_ = head_ + 1 == buffer_.size() ? 0 : head_ + 1;
        return out;
    }

    void reset() noexcept {
        std::fill(buffer_.begin(), buffer_.end(), 0.0f);
        head_ = 0;
    }

private:
    std::vector<float> buffer_;
    std::size_t head_ = 0;
};

}  // namespace statestream::plugins
