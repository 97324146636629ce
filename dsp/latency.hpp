#pragma once
// Algorithmic latency of a chain of blocks that may run at different rates. Each block reports
// its own delay in samples at its output rate; the chain's delay is their sum converted to one
// rate. A test feeds an impulse through a real chain and finds exactly this number.

#include <cstdint>
#include <span>
#include <string_view>

namespace statestream::dsp {

struct BlockLatency {
    std::string_view block;  // for reports: "resample 48000->16000", "stft/istft"
    std::uint64_t samples = 0;
    std::uint32_t rate_hz = 0;  // the rate those samples are counted at
};

// Thread: any. The sum, in samples at `rate_hz` (fractional when a block's delay does not fall
// on that rate's grid).
[[nodiscard]] inline double total_latency_samples(std::span<const BlockLatency> blocks,
                                                  std::uint32_t rate_hz) noexcept {
    double total = 0.0;
    for (const auto& block : blocks) {
        total += static_cast<double>(block.samples) * static_cast<double>(rate_hz) /
                 static_cast<double>(block.rate_hz);
    }
    return total;
}

}  // namespace statestream::dsp
