#pragma once
// The causal depthwise convolution that Mamba-1 and Mamba-2 run before their scans, over one
// stream's steps: each channel sees its last `taps` inputs, the oldest `taps - 1` of them
// carried across calls in the stream's state. Thread: real-time or worker; no allocation.

#include <cstddef>
#include <cstring>
#include <span>

#include "models/cpu/activations.hpp"

namespace statestream::models::cpu {

struct CausalConv {
    std::span<const float> weight;  // {channels, taps}
    std::span<const float> bias;    // {channels}
    std::size_t channels;
    std::size_t taps;
};

// in: step t's inputs at in + t * in_stride (channels floats); out {steps, channels} =
// SiLU(conv + bias); history {taps - 1, channels}, oldest first, updated to the last inputs;
// window: scratch of (taps - 1 + steps) * channels floats.
inline void causal_conv_silu(const CausalConv& conv, float* history, const float* in,
                             std::size_t in_stride, float* out, float* window,
                             std::size_t steps) noexcept {
    const std::size_t c_count = conv.channels;
    const std::size_t kept = conv.taps - 1;
    std::memcpy(window, history, kept * c_count * sizeof(float));
    for (std::size_t t = 0; t < steps; ++t) {
        std::memcpy(window + (kept + t) * c_count, in + t * in_stride, c_count * sizeof(float));
    }
    for (std::size_t t = 0; t < steps; ++t) {
        float* row = out + t * c_count;
        for (std::size_t c = 0; c < c_count; ++c) {
            float acc = conv.bias[c];
            for (std::size_t k = 0; k < conv.taps; ++k) {
                acc += conv.weight[c * conv.taps + k] * window[(t + k) * c_count + c];
            }
            row[c] = silu(acc);
        }
    }
    std::memcpy(history, window + steps * c_count, kept * c_count * sizeof(float));
}

}  // namespace statestream::models::cpu
