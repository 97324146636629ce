#pragma once
// The linked enhancer at the host's sample rate, one block of whole model hops per call, for
// every channel. The model runs at its own rate (48 kHz for the shipped one):
//
//   rate == model rate   the enhancer alone.
//   rate <  model rate   resample up -> enhance -> resample down, with the resamplers, block
//                        and quality of engine::make_enhancer_chain, so a file through the
//                        plugin equals `statestream enhance` on it.
//   rate >  model rate   full band: the model sees and changes only what lies below its
//                        Nyquist frequency; everything above passes through as it came in.
//                        The output is the input, delayed, plus the model's change to it:
//
//                          d = down(x);  y = delay_D(x) + up(delay_P(enhance(d) - delay_E(d)))
//
//                        E is the enhancer's own delay (N - H), so enhance(d) - delay_E(d) is
//                        exactly what the enhancer took away (zero at strength 0), and the
//                        resamplers only carry that difference. P (at the model's rate) pads the
//                        change path until its delay is a whole number of samples at the host's
//                        rate (88.2 kHz: P < 80 samples), so that D, the dry path's delay, lines
//                        up with it exactly and nothing of the input is lost or doubled.
//
// delay_samples() is where an impulse comes out (rounded to the nearest sample where the
// resamplers' delay is fractional, as at 44.1 kHz).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/stages/resample_stage.hpp"
#include "models/ssm_model.hpp"
#include "plugins/lv2/delay_line.hpp"
#include "engine/linked_enhancer.hpp"

namespace statestream::plugins {

enum class RateMode {
    kNative,     // the model's own rate
    kResampled,  // below it: resampled around the model
    kBandSplit,  // above it: the model's change, resampled, added to the delayed input
};

class EnhancerAtRate {
public:
    // Thread: setup. Throws std::invalid_argument when the model is not an enhancer, the rate is
    // outside 8..192 kHz or shares no block of at most 64 hops with the model's rate.
    EnhancerAtRate(const models::SsmModel& model, std::uint32_t rate_hz, std::size_t channels);

    [[nodiscard]] RateMode mode() const noexcept { return mode_; }
    [[nodiscard]] std::uint32_t rate_hz() const noexcept { return rate_hz_; }
    [[nodiscard]] std::size_t channels() const noexcept { return enhancer_.channels(); }
    // Samples per channel per call: the fewest whole model hops that are also a whole number of
    // samples at rate_hz (engine::make_enhancer_chain's block).
    [[nodiscard]] std::size_t block_samples() const noexcept { return block_; }
    [[nodiscard]] std::size_t delay_samples() const noexcept { return delay_; }
    // The pad P of the band split (0 in the other modes), at the model's rate.
    [[nodiscard]] std::size_t pad_samples() const noexcept { return pad_samples_; }

    [[nodiscard]] engine::LinkedEnhancer& enhancer() noexcept { return enhancer_; }
    [[nodiscard]] const engine::LinkedEnhancer& enhancer() const noexcept { return enhancer_; }

    // Thread: real-time. in[c] and out[c] point at block_samples() floats each, and no output
    // overlaps an input.
    void process_block(std::span<const float* const> in, std::span<float* const> out) noexcept;

    // Thread: setup (not concurrently with process_block).
    void reset() noexcept;

private:
    struct Channel {
        std::unique_ptr<engine::ResampleStage> down;
        std::unique_ptr<engine::ResampleStage> up;
        std::vector<float> model_in;   // hops * hop at the model's rate
        std::vector<float> model_out;
        std::vector<float> high_rate;  // block_ at rate_hz: the band split's resampled change
        DelayLine enhancer_twin{0};    // band split: the input at the model's rate, delayed by E
        DelayLine pad{0};              // band split: P
        DelayLine dry{0};              // band split: D
    };

    void run_hops() noexcept;

    engine::LinkedEnhancer enhancer_;
    RateMode mode_ = RateMode::kNative;
    std::uint32_t rate_hz_;
    std::size_t hops_ = 1;
    std::size_t block_ = 0;
    std::size_t delay_ = 0;
    std::size_t pad_samples_ = 0;
    std::vector<Channel> channels_;
    std::vector<const float*> hop_in_;  // per channel, for LinkedEnhancer::process_hop
    std::vector<float*> hop_out_;
};

// Thread: setup. The fewest hops (1..64) whose duration is a whole number of samples at
// rate_hz; throws std::invalid_argument naming the rate when there is none.
[[nodiscard]] std::size_t hops_per_block(std::size_t hop_samples, std::uint32_t model_rate_hz,
                                         std::uint32_t rate_hz);

}  // namespace statestream::plugins
