#include "dsp/delta_features.hpp"
#include "dsp/stateful.hpp"

#include <algorithm>

namespace statestream::dsp {

DeltaFeatures::DeltaFeatures(std::size_t features)
    : features_(features), history_(4 * features, 0.0f) {}

void DeltaFeatures::process(std::span<const float> frame, std::span<float> delta) noexcept {
    const std::size_t n = features_;
    if (!started_) {
        for (std::size_t f = 0; f < 4; ++f) std::copy(frame.begin(), frame.end(), history_.begin() + static_cast<std::ptrdiff_t>(f * n));
        started_ = true;
    }
    // Centre frame c = m-2: d = (c[+1] - c[-1] + 2 (c[+2] - c[-2])) / 10.
    const float* before2 = history_.data();
    const float* before1 = history_.data() + n;
    const float* after1 = history_.data() + 3 * n;
    const float* after2 = frame.data();
    for (std::size_t i = 0; i < n; ++i) {
        delta[i] = (after1[i] - before1[i] + 2.0f * (after2[i] - before2[i])) / 10.0f;
    }
    std::copy(history_.begin() + static_cast<std::ptrdiff_t>(n), history_.end(), history_.begin());
    std::copy(frame.begin(), frame.end(), history_.end() - static_cast<std::ptrdiff_t>(n));
}

void DeltaFeatures::save_state(std::span<float> out) const noexcept {
    std::copy(history_.begin(), history_.end(), out.begin());
    out[history_.size()] = started_ ? 1.0f : 0.0f;
}

void DeltaFeatures::restore_state(std::span<const float> in) noexcept {
    std::copy(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(history_.size()), history_.begin());
    started_ = in[history_.size()] != 0.0f;
}

void DeltaFeatures::reset() noexcept {
    std::fill(history_.begin(), history_.end(), 0.0f);
    started_ = false;
}

}  // namespace statestream::dsp

// Every stateful block can be snapshotted with the rest of its stream (dsp/stateful.hpp).
static_assert(statestream::dsp::StatefulBlock<statestream::dsp::DeltaFeatures>);
