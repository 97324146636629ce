#pragma once
// exp(x) for the decays of a selective scan (x <= 0), without libm: one exp per state element
// per step is the hot loop of Mamba-1, and a libm call there costs more than everything else in
// the update together. Cody-Waite range reduction to r in [-ln2/2, ln2/2], a degree-6 Taylor
// polynomial (relative error below 2e-7, about one float ulp), and 2^n built in the exponent
// bits. Inputs below -87 give exp(-87) ~ 1.6e-38 instead of a denormal: a decay that small is
// zero for every purpose and denormals would stall the FPU.

#include <cstdint>
#include <cstring>

namespace statestream::models::cpu {

inline constexpr float kExpLowest = -87.0f;
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2High = 0.693145751953125f;      // ln 2 with its low bits cleared
inline constexpr float kLn2Low = 1.428606765330187045e-06f;  // ln 2 - kLn2High

[[nodiscard]] inline float exp_decay(float x) noexcept {
    x = x < kExpLowest ? kExpLowest : (x > 0.0f ? 0.0f : x);
    // Round to nearest by adding and removing 1.5 * 2^23 (x * log2e is within +-126 here):
    // nearbyintf would save and restore the FP environment on every call.
    constexpr float kRoundShift = 12582912.0f;
    const float n = (x * kLog2e + kRoundShift) - kRoundShift;
    const float r = (x - n * kLn2High) - n * kLn2Low;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const std::int32_t bits = (static_cast<std::int32_t>(n) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

}  // namespace statestream::models::cpu
