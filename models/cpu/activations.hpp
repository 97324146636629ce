#pragma once
// The scalar activations the blocks share, with the exact definitions the PyTorch reference
// uses (torch.nn.functional.silu, softplus with beta 1 and threshold 20, sigmoid).

#include <cmath>

namespace statestream::models::cpu {

[[nodiscard]] inline float silu(float x) noexcept { return x / (1.0f + std::exp(-x)); }

// Above 20, exp would only add rounding: softplus(x) = x there to float precision.
[[nodiscard]] inline float softplus(float x) noexcept {
    return x > 20.0f ? x : std::log1p(std::exp(x));
}

[[nodiscard]] inline float sigmoid(float x) noexcept { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace statestream::models::cpu
