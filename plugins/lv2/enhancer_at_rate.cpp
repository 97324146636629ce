#include "plugins/lv2/enhancer_at_rate.hpp"

#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace statestream::plugins {

namespace {

constexpr std::uint32_t kMinRateHz = 8000;
constexpr std::uint32_t kMaxRateHz = 192000;
constexpr std::size_t kMaxHopsPerBlock = 64;
// Live-stream resampling, as engine::make_enhancer_chain's default and `statestream enhance`.
constexpr dsp::ResamplerQuality kQuality = dsp::ResamplerQuality::kMedium;

// A resampler's delay in whole samples at its output rate (stream_resampler.hpp: an integer
// number of output samples by construction).
std::size_t delay_at_output(const engine::ResampleStage& stage) {
    return static_cast<std::size_t>(std::llround(stage.latency_seconds() * stage.output().rate_hz));
}

}  // namespace

std::size_t hops_per_block(std::size_t hop_samples, std::uint32_t model_rate_hz,
                           std::uint32_t rate_hz) {
    for (std::size_t hops = 1; hops <= kMaxHopsPerBlock; ++hops) {
        if ((static_cast<std::uint64_t>(hops) * hop_samples * rate_hz) % model_rate_hz == 0) return hops;
    }
    throw std::invalid_argument(std::to_string(rate_hz) + " Hz shares no block of at most " +
                                std::to_string(kMaxHopsPerBlock) + " hops with the model's " +
                                std::to_string(model_rate_hz) + " Hz");
}

EnhancerAtRate::EnhancerAtRate(const models::SsmModel& model, std::uint32_t rate_hz,
                               std::size_t channels)
    : enhancer_(model, channels), rate_hz_(rate_hz) {
    if (rate_hz < kMinRateHz || rate_hz > kMaxRateHz) {
        throw std::invalid_argument(std::to_string(rate_hz) + " Hz is outside the " +
                                    std::to_string(kMinRateHz) + ".." + std::to_string(kMaxRateHz) +
                                    " Hz the enhancer takes");
    }
    const std::uint32_t model_rate = enhancer_.rate_hz();
    const std::size_t hop = enhancer_.hop_samples();
    const std::size_t enhancer_delay = enhancer_.latency_samples();
    mode_ = rate_hz == model_rate ? RateMode::kNative
            : rate_hz < model_rate ? RateMode::kResampled
                                   : RateMode::kBandSplit;
    hops_ = mode_ == RateMode::kNative ? 1 : hops_per_block(hop, model_rate, rate_hz);
    block_ = hops_ * hop * rate_hz / model_rate;
    delay_ = enhancer_delay;

    channels_.resize(channels);
    for (Channel& channel : channels_) {
        channel.model_in.assign(hops_ * hop, 0.0f);
        channel.model_out.assign(hops_ * hop, 0.0f);
        if (mode_ == RateMode::kNative) continue;
        channel.down = std::make_unique<engine::ResampleStage>(rate_hz, model_rate, block_, kQuality);
        channel.up = std::make_unique<engine::ResampleStage>(model_rate, rate_hz, hops_ * hop, kQuality);
    }
    if (mode_ != RateMode::kNative) {
        const std::size_t down_delay = delay_at_output(*channels_.front().down);  // model rate
        const std::size_t up_delay = delay_at_output(*channels_.front().up);      // rate_hz
        // At the model's rate the change path delays by down + E (+ P); at rate_hz that is
        // (down + E + P) * rate / model_rate, whole once down + E + P is a multiple of `whole`.
        const std::size_t whole = model_rate / std::gcd(rate_hz, model_rate);
        const std::size_t before_up = down_delay + enhancer_delay;
        if (mode_ == RateMode::kBandSplit) pad_samples_ = (whole - before_up % whole) % whole;
        const double exact = static_cast<double>(before_up + pad_samples_) * rate_hz / model_rate +
                             static_cast<double>(up_delay);
        delay_ = static_cast<std::size_t>(std::llround(exact));
    }
    if (mode_ == RateMode::kBandSplit) {
        for (Channel& channel : channels_) {
            channel.high_rate.assign(block_, 0.0f);
            channel.enhancer_twin = DelayLine(enhancer_delay);
            channel.pad = DelayLine(pad_samples_);
            channel.dry = DelayLine(delay_);
        }
    }
    hop_in_.resize(channels);
    hop_out_.resize(channels);
}

void EnhancerAtRate::run_hops() noexcept {
    const std::size_t hop = enhancer_.hop_samples();
    for (std::size_t h = 0; h < hops_; ++h) {
        for (std::size_t c = 0; c < channels_.size(); ++c) {
            hop_in_[c] = channels_[c].model_in.data() + h * hop;
            hop_out_[c] = channels_[c].model_out.data() + h * hop;
        }
        enhancer_.process_hop(hop_in_, hop_out_);
    }
}

void EnhancerAtRate::process_block(std::span<const float* const> in,
                                   std::span<float* const> out) noexcept {
    const std::size_t count = channels_.size();
    if (mode_ == RateMode::kNative) {
        // One hop, straight from the caller's buffers.
        for (std::size_t c = 0; c < count; ++c) {
            hop_in_[c] = in[c];
            hop_out_[c] = out[c];
        }
        enhancer_.process_hop(hop_in_, hop_out_);
        return;
    }
    for (std::size_t c = 0; c < count; ++c) {
        channels_[c].down->process(std::span<const float>(in[c], block_), channels_[c].model_in);
    }
    run_hops();
    if (mode_ == RateMode::kResampled) {
        for (std::size_t c = 0; c < count; ++c) {
            channels_[c].up->process(channels_[c].model_out, std::span<float>(out[c], block_));
        }
        return;
    }
    for (std::size_t c = 0; c < count; ++c) {
        Channel& channel = channels_[c];
        for (std::size_t i = 0; i < channel.model_out.size(); ++i) {
            const float change = channel.model_out[i] - channel.enhancer_twin.push(channel.model_in[i]);
            channel.model_out[i] = channel.pad.push(change);
        }
        channel.up->process(channel.model_out, channel.high_rate);
        for (std::size_t i = 0; i < block_; ++i) {
            out[c][i] = channel.dry.push(in[c][i]) + channel.high_rate[i];
        }
    }
}

void EnhancerAtRate::reset() noexcept {
    enhancer_.reset();
    for (Channel& channel : channels_) {
        if (channel.down) channel.down->reset();
        if (channel.up) channel.up->reset();
        channel.enhancer_twin.reset();
        channel.pad.reset();
        channel.dry.reset();
    }
}

}  // namespace statestream::plugins
