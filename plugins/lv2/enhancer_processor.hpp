#pragma once
// Everything the plugin does between the host's buffers and the enhancer, independent of LV2:
//
//   host buffers (any frame count) -> sanitise -> block FIFO -> EnhancerAtRate (whole hops)
//     -> crossfade with the dry input (bypass) -> block FIFO -> host buffers
//
// The FIFO lets run() take any number of frames, 1 included: input collects until a whole block
// is there, and output is read from the block processed before, so every sample waits exactly
// one block (block_samples()) on top of the chain's own delay. latency_samples() is that total,
// measured at construction by sending an impulse through process() itself.
//
// Sanitising: a NaN or infinite input sample becomes 0 and a finite one is clamped to
// +-kSampleLimit before anything else sees it (the dry path included), so no host glitch can put
// a non-finite number into the model's state; every sample changed is counted.
//
// Bypass crossfades, over one block, between the enhanced signal and the dry input delayed by
// the same amount, so the latency (and the host's delay compensation) stays the same and the
// switch does not click. The enhancer keeps running while bypassed, so its state is current
// when it comes back and its CPU cost does not jump.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "models/ssm_model.hpp"
#include "plugins/lv2/delay_line.hpp"
#include "plugins/lv2/enhancer_at_rate.hpp"

namespace statestream::plugins {

// The attenuation limit control's top: at (or above) it there is no limit, as the engine's 0.
inline constexpr float kNoAttenuationLimitDb = 100.0f;
// 60 dB over full scale: nothing a host sends as audio; beyond it a sample is a fault.
inline constexpr float kSampleLimit = 1000.0f;

// What the host sets, in the plugin's units (docs/plugin.md, "Ports").
struct PluginControls {
    float strength = 1.0f;                               // 0..1, the engine's --strength
    float attenuation_limit_db = kNoAttenuationLimitDb;  // 0..100 dB; 100: no limit
    bool enabled = true;                                 // false: bypass
};

class EnhancerProcessor {
public:
    // Thread: setup. Builds the chain and measures the latency (about 1.5 s of audio through
    // process(), tens of milliseconds), then resets. Throws std::invalid_argument when the model
    // is not an enhancer or the rate is not supported (EnhancerAtRate).
    EnhancerProcessor(const models::SsmModel& model, std::uint32_t rate_hz, std::size_t channels);

    [[nodiscard]] std::size_t channels() const noexcept { return chain_.channels(); }
    [[nodiscard]] std::uint32_t rate_hz() const noexcept { return chain_.rate_hz(); }
    [[nodiscard]] std::size_t block_samples() const noexcept { return chain_.block_samples(); }
    [[nodiscard]] const EnhancerAtRate& chain() const noexcept { return chain_; }
    // Where an impulse into process() comes out: the chain's delay plus one block.
    [[nodiscard]] std::size_t latency_samples() const noexcept { return latency_; }

    // Thread: real-time. Takes effect from the next block; out-of-range values are clamped,
    // NaN means the default.
    void set_controls(const PluginControls& controls) noexcept;

    // Thread: real-time. frames of every channel: in[c] and out[c] point at `frames` floats;
    // in.size() == out.size() == channels(). Outputs may alias inputs (in-place hosts).
    void process(std::span<const float* const> in, std::span<float* const> out,
                 std::size_t frames) noexcept;

    // Input samples replaced (non-finite) or clamped since construction or reset().
    [[nodiscard]] std::uint64_t sanitised_samples() const noexcept { return sanitised_; }

    // Thread: setup (LV2 activate()). A fresh stream: every state, FIFO and counter at zero,
    // bypass at its current setting without a crossfade.
    void reset() noexcept;

private:
    void process_block() noexcept;
    [[nodiscard]] std::size_t measure_latency();

    EnhancerAtRate chain_;
    std::size_t block_;
    std::size_t latency_ = 0;
    std::vector<std::vector<float>> in_block_;   // per channel, block_ samples, sanitised
    std::vector<std::vector<float>> wet_block_;  // per channel, the chain's output
    std::vector<std::vector<float>> out_block_;  // per channel, what the next block plays
    std::vector<DelayLine> dry_;                 // per channel, by the chain's delay
    std::vector<const float*> block_in_;         // pointers into in_block_, for the chain
    std::vector<float*> block_wet_;
    std::size_t fill_ = 0;                       // samples of in_block_ collected so far
    float wet_ = 1.0f;                           // crossfade position at the end of the last block
    float wet_target_ = 1.0f;                    // 1 enhanced, 0 bypassed
    float last_limit_db_ = kNoAttenuationLimitDb;
    std::uint64_t sanitised_ = 0;
};

}  // namespace statestream::plugins
