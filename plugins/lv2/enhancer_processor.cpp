#include "plugins/lv2/enhancer_processor.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace statestream::plugins {

namespace {

float sanitised(float sample, std::uint64_t& count) noexcept {
    if (!std::isfinite(sample)) {
        ++count;
        return 0.0f;
    }
    if (std::abs(sample) > kSampleLimit) {
        ++count;
        return std::copysign(kSampleLimit, sample);
    }
    return sample;
}

float floor_for_limit(float limit_db) noexcept {
    if (!(limit_db < kNoAttenuationLimitDb)) return 0.0f;  // NaN too: the default, no limit
    return std::pow(10.0f, -std::max(limit_db, 0.0f) / 20.0f);
}

}  // namespace

EnhancerProcessor::EnhancerProcessor(const models::SsmModel& model, std::uint32_t rate_hz,
                                     std::size_t channels)
    : chain_(model, rate_hz, channels), block_(chain_.block_samples()) {
    for (std::size_t c = 0; c < channels; ++c) {
        in_block_.emplace_back(block_, 0.0f);
        wet_block_.emplace_back(block_, 0.0f);
        out_block_.emplace_back(block_, 0.0f);
        dry_.emplace_back(chain_.delay_samples());
    }
    for (std::size_t c = 0; c < channels; ++c) {
        block_in_.push_back(in_block_[c].data());
        block_wet_.push_back(wet_block_[c].data());
    }
    latency_ = measure_latency();
    reset();
}

void EnhancerProcessor::set_controls(const PluginControls& controls) noexcept {
    const float strength = std::isnan(controls.strength) ? 1.0f : std::clamp(controls.strength, 0.0f, 1.0f);
    chain_.enhancer().set_strength(strength);
    // pow() only when the limit moves (hosts send the same value every run).
    if (!(controls.attenuation_limit_db == last_limit_db_)) {
        last_limit_db_ = controls.attenuation_limit_db;
        chain_.enhancer().set_gain_floor(floor_for_limit(controls.attenuation_limit_db));
    }
    wet_target_ = controls.enabled ? 1.0f : 0.0f;
}

void EnhancerProcessor::process(std::span<const float* const> in, std::span<float* const> out,
                                std::size_t frames) noexcept {
    const std::size_t count = in_block_.size();
    std::size_t done = 0;
    while (done < frames) {
        const std::size_t take = std::min(frames - done, block_ - fill_);
        // Every channel's input is read before any output is written: hosts may hand the same
        // buffer to an input and an output.
        for (std::size_t c = 0; c < count; ++c) {
            const float* from = in[c] + done;
            float* to = in_block_[c].data() + fill_;
            for (std::size_t i = 0; i < take; ++i) to[i] = sanitised(from[i], sanitised_);
        }
        for (std::size_t c = 0; c < count; ++c) {
            std::copy_n(out_block_[c].data() + fill_, take, out[c] + done);
        }
        fill_ += take;
        done += take;
        if (fill_ == block_) {
            process_block();
            fill_ = 0;
        }
    }
}

void EnhancerProcessor::process_block() noexcept {
    chain_.process_block(block_in_, block_wet_);
    const float start = wet_;
    const float target = wet_target_;
    const float step = (target - start) / static_cast<float>(block_);
    for (std::size_t c = 0; c < in_block_.size(); ++c) {
        const std::vector<float>& input = in_block_[c];
        const std::vector<float>& wet = wet_block_[c];
        std::vector<float>& output = out_block_[c];
        DelayLine& dry_line = dry_[c];
        for (std::size_t i = 0; i < block_; ++i) {
            const float dry = dry_line.push(input[i]);
            if (start == target) {
                // Settled: exactly the enhanced or exactly the dry signal.
                output[i] = target == 1.0f ? wet[i] : dry;
            } else {
                const float mix = i + 1 == block_ ? target : start + step * static_cast<float>(i + 1);
                output[i] = dry + mix * (wet[i] - dry);
            }
        }
    }
    wet_ = target;
}

void EnhancerProcessor::reset() noexcept {
    chain_.reset();
    for (std::size_t c = 0; c < in_block_.size(); ++c) {
        std::fill(in_block_[c].begin(), in_block_[c].end(), 0.0f);
        std::fill(wet_block_[c].begin(), wet_block_[c].end(), 0.0f);
        std::fill(out_block_[c].begin(), out_block_[c].end(), 0.0f);
        dry_[c].reset();
    }
    fill_ = 0;
    wet_ = wet_target_;
    sanitised_ = 0;
}

std::size_t EnhancerProcessor::measure_latency() {
    // Half a second of low noise (a realistic model state rather than digital silence), an
    // impulse in every channel, then a second more, in pieces of changing size so that the FIFO
    // is part of what is measured. Positive real band gains are zero-phase per frame, so the
    // output peaks at the delay whatever the model does (as engine::measure_impulse_delay).
    const std::size_t count = in_block_.size();
    const std::size_t impulse_at = chain_.rate_hz() / 2;
    const std::size_t total = impulse_at + chain_.rate_hz();
    std::vector<std::vector<float>> input(count, std::vector<float>(total, 0.0f));
    std::vector<std::vector<float>> output(count, std::vector<float>(total, 0.0f));
    std::minstd_rand generator(7);
    std::normal_distribution<float> noise(0.0f, 1e-4f);
    for (auto& channel : input) {
        for (std::size_t i = 0; i < impulse_at; ++i) channel[i] = noise(generator);
        channel[impulse_at] = 1.0f;
    }
    constexpr std::size_t kPieces[] = {1, 37, 256, 500, 1031};
    std::vector<const float*> from(count);
    std::vector<float*> to(count);
    for (std::size_t at = 0, piece = 0; at < total; ++piece) {
        const std::size_t frames = std::min(kPieces[piece % std::size(kPieces)], total - at);
        for (std::size_t c = 0; c < count; ++c) {
            from[c] = input[c].data() + at;
            to[c] = output[c].data() + at;
        }
        process(from, to, frames);
        at += frames;
    }
    std::size_t peak = impulse_at;
    for (std::size_t i = impulse_at; i < total; ++i) {
        if (std::abs(output[0][i]) > std::abs(output[0][peak])) peak = i;
    }
    return peak - impulse_at;
}

}  // namespace statestream::plugins
