#pragma once
// The plugin's own CPU meter: how long each run() took, as a percentage of the audio it carried
// (n_samples / rate). 100 % means run() took as long as the audio lasts; a host whose period is
// shorter than one 10 ms hop sees runs that only move samples (near 0 %) between runs that step
// the model (the figure that matters), so the meter also holds the highest per-run load of the
// last second of audio.
//
// Wall-clock time (steady_clock, CLOCK_MONOTONIC through the vDSO: no system call), as hosts'
// DSP meters measure it: time the audio thread lost to preemption counts too.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace statestream::plugins {

class RunLoadMeter {
public:
    // Thread: setup.
    explicit RunLoadMeter(std::uint32_t rate_hz) noexcept : rate_hz_(rate_hz) {}

    // Thread: real-time. One run() of `frames` frames that took `elapsed`.
    void note(std::chrono::steady_clock::duration elapsed, std::size_t frames) noexcept {
        if (frames == 0) return;
        const double seconds = std::chrono::duration<double>(elapsed).count();
        last_percent_ = static_cast<float>(100.0 * seconds * rate_hz_ / static_cast<double>(frames));
        window_peak_ = std::max(window_peak_, last_percent_);
        window_frames_ += frames;
        if (window_frames_ >= rate_hz_) {  // a second of audio: this window becomes the held one
            held_peak_ = window_peak_;
            window_peak_ = 0.0f;
            window_frames_ = 0;
        }
    }

    [[nodiscard]] float last_percent() const noexcept { return last_percent_; }
    // The highest per-run load over the last one to two seconds of audio.
    [[nodiscard]] float peak_percent() const noexcept { return std::max(held_peak_, window_peak_); }

    void reset() noexcept { *this = RunLoadMeter(rate_hz_); }

private:
    std::uint32_t rate_hz_;
    float last_percent_ = 0.0f;
    float window_peak_ = 0.0f;
    float held_peak_ = 0.0f;
    std::uint64_t window_frames_ = 0;
};

}  // namespace statestream::plugins
