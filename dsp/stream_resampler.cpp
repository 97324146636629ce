#include "dsp/stream_resampler.hpp"
#include "dsp/stateful.hpp"

#include <samplerate.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace statestream::dsp {

namespace {

int converter_type(ResamplerQuality quality) {
    switch (quality) {
        case ResamplerQuality::kBest: return SRC_SINC_BEST_QUALITY;
        case ResamplerQuality::kMedium: return SRC_SINC_MEDIUM_QUALITY;
        case ResamplerQuality::kFastest: return SRC_SINC_FASTEST;
    }
    return SRC_SINC_MEDIUM_QUALITY;
}

SRC_STATE* new_converter(ResamplerQuality quality) {
    int error = 0;
    SRC_STATE* state = src_new(converter_type(quality), 1, &error);
    if (state == nullptr) {
        throw std::runtime_error(std::string("resampler: libsamplerate could not start: ") +
                                 src_strerror(error));
    }
    return state;
}

// Runs all of `in` through `state` at `ratio`, appending what it generates to `out`.
std::size_t convert(SRC_STATE* state, double ratio, std::span<const float> in,
                    std::span<float> out) noexcept {
    std::size_t produced = 0;
    while (!in.empty()) {
        SRC_DATA data{};
        data.data_in = in.data();
        data.input_frames = static_cast<long>(in.size());
        data.data_out = out.data() + produced;
        data.output_frames = static_cast<long>(out.size() - produced);
        data.src_ratio = ratio;
        data.end_of_input = 0;
        if (src_process(state, &data) != 0 || data.input_frames_used == 0) break;
        in = in.subspan(static_cast<std::size_t>(data.input_frames_used));
        produced += static_cast<std::size_t>(data.output_frames_gen);
    }
    return produced;
}

}  // namespace

StreamResampler::StreamResampler(const ResamplerConfig& config) : config_(config) {
    const auto check_rate = [](std::uint32_t rate, const char* field) {
        if (rate < 1000 || rate > 768000) {
            throw std::invalid_argument(std::string("resampler: ") + field + " is " +
                                        std::to_string(rate) + " Hz, expected 1000..768000");
        }
    };
    check_rate(config.input_rate_hz, "input_rate_hz");
    check_rate(config.output_rate_hz, "output_rate_hz");
    if (config.max_input_samples < 1 || config.max_input_samples > (std::size_t{1} << 22)) {
        throw std::invalid_argument("resampler: max_input_samples is " +
                                    std::to_string(config.max_input_samples) +
                                    ", expected 1..4194304");
    }
    const std::uint64_t divisor = std::gcd(config.input_rate_hz, config.output_rate_hz);
    up_ = config.output_rate_hz / divisor;
    down_ = config.input_rate_hz / divisor;
    ratio_ = static_cast<double>(config.output_rate_hz) / static_cast<double>(config.input_rate_hz);

    // Measure how far libsamplerate's output trails the ideal count, with blocks of one sample
    // and of the largest size, over several input periods: the worst is the latency.
    const std::size_t probe_max_out = max_output_samples(config.max_input_samples) + 64;
    std::vector<float> zeros(config.max_input_samples, 0.0f);
    std::vector<float> sink(probe_max_out);
    std::int64_t worst = 0;
    for (const std::size_t block : {std::size_t{1}, config.max_input_samples}) {
        SRC_STATE* probe = new_converter(config.quality);
        std::uint64_t total_in = 0;
        std::uint64_t total_out = 0;
        const std::uint64_t probe_samples = std::max<std::uint64_t>(4 * down_ + 8192, 4 * block);
        while (total_in < probe_samples) {
            total_out += convert(probe, ratio_, std::span<const float>(zeros).first(block), sink);
            total_in += block;
            const auto ideal = static_cast<std::int64_t>(total_in * up_ / down_);
            worst = std::max(worst, ideal - static_cast<std::int64_t>(total_out));
        }
        src_delete(probe);
    }
    latency_ = static_cast<std::size_t>(worst);

    converter_ = new_converter(config.quality);
    generated_.resize(max_output_samples(config.max_input_samples) + 64);
    replay_tail_.resize(latency_ + 1);
    fifo_.resize(latency_ + generated_.size() + 1);
    // Look-back for a replayed restore: several times the filter's reach in input samples
    // (latency_ is half the filter in output samples), plus a period to align the phase.
    replay_base_ = std::max<std::size_t>(
        2048, static_cast<std::size_t>(8.0 * static_cast<double>(latency_ + 1) / ratio_));
    history_.assign(replay_base_ + down_, 0.0f);
    prime();
}

StreamResampler::~StreamResampler() {
    if (converter_ != nullptr) src_delete(converter_);
}

std::size_t StreamResampler::max_output_samples(std::size_t input_samples) const noexcept {
    return static_cast<std::size_t>((static_cast<std::uint64_t>(input_samples) * up_ + down_ - 1) /
                                    down_) + 1;
}

void StreamResampler::prime() noexcept {
    fifo_head_ = 0;
    fifo_size_ = latency_;
    std::fill(fifo_.begin(), fifo_.end(), 0.0f);
}

void StreamResampler::push(float sample) noexcept {
    if (fifo_size_ == fifo_.size()) return;  // cannot happen: the FIFO holds latency + a call
    fifo_[(fifo_head_ + fifo_size_) % fifo_.size()] = sample;
    ++fifo_size_;
}

StreamResampler::Advance StreamResampler::advance(std::span<const float> in) noexcept {
    const std::size_t generated = convert(converter_, ratio_, in, generated_);
    // floor(total_in * up / down) = q * up + floor(phase * up / down) for total_in = q * down +
    // phase, so the phase alone gives how many output indices this input completed.
    const auto completed = static_cast<std::size_t>((phase_ + in.size()) * up_ / down_ -
                                                    phase_ * up_ / down_);
    phase_ = (phase_ + in.size()) % down_;
    owed_ = owed_ + completed - generated;
    return {generated, completed};
}

void StreamResampler::remember(std::span<const float> in) noexcept {
    for (const float sample : in) {
        history_[history_head_] = sample;
        history_head_ = (history_head_ + 1) % history_.size();
    }
}

std::size_t StreamResampler::process(std::span<const float> in, std::span<float> out) noexcept {
    const Advance step = advance(in);
    // After a replayed restore, outputs the saved stream had already generated come again.
    const std::size_t dropped = std::min(skip_, step.generated);
    skip_ -= dropped;
    owed_ += dropped;
    for (std::size_t i = dropped; i < step.generated; ++i) push(generated_[i]);
    remember(in);
    const std::size_t count = std::min({step.completed, fifo_size_, out.size()});
    for (std::size_t i = 0; i < count; ++i) {
        out[i] = fifo_[fifo_head_];
        fifo_head_ = (fifo_head_ + 1) % fifo_.size();
    }
    fifo_size_ -= count;
    return count;
}

std::size_t StreamResampler::state_floats() const noexcept {
    // phase, owed outputs, FIFO length, FIFO contents (at most its capacity), history
    return 3 + fifo_.size() + history_.size();
}

void StreamResampler::save_state(std::span<float> out) const noexcept {
    out[0] = static_cast<float>(phase_);
    out[1] = static_cast<float>(owed_);
    out[2] = static_cast<float>(fifo_size_);
    std::fill(out.begin() + 3, out.end(), 0.0f);
    for (std::size_t i = 0; i < fifo_size_; ++i) out[3 + i] = fifo_[(fifo_head_ + i) % fifo_.size()];
    const std::size_t history_at = 3 + fifo_.size();
    for (std::size_t i = 0; i < history_.size(); ++i) {  // oldest first
        out[history_at + i] = history_[(history_head_ + i) % history_.size()];
    }
}

bool StreamResampler::accepts_state(std::span<const float> in) const noexcept {
    const auto whole_up_to = [](float value, std::size_t limit) {
        return value >= 0.0f && value <= static_cast<float>(limit) && std::floor(value) == value;
    };
    return in.size() == state_floats() && whole_up_to(in[0], down_ - 1) &&
           whole_up_to(in[1], latency_) && whole_up_to(in[2], fifo_.size());
}

void StreamResampler::restore_state(std::span<const float> in) noexcept {
    const auto saved_phase = static_cast<std::uint64_t>(in[0]) % down_;
    const auto saved_owed = std::min(static_cast<std::size_t>(in[1]), latency_);
    const std::size_t history_at = 3 + fifo_.size();
    std::copy(in.begin() + static_cast<std::ptrdiff_t>(history_at), in.end(), history_.begin());
    history_head_ = 0;

    // Replay the most recent samples through a fresh converter, starting at a multiple of the
    // input period (phase 0), so its filter history and fractional position match the saved
    // one's. What it generates was already emitted or sits in the saved FIFO.
    src_reset(converter_);
    phase_ = 0;
    owed_ = 0;
    skip_ = 0;
    const std::size_t replay = replay_base_ + static_cast<std::size_t>(
        (saved_phase + down_ - replay_base_ % down_) % down_);
    std::span<const float> recent(history_.data() + history_.size() - replay, replay);
    std::size_t tail_head = 0;  // replay_tail_ is a ring of the last generated outputs
    while (!recent.empty()) {
        const std::size_t block = std::min(recent.size(), config_.max_input_samples);
        const std::size_t produced = advance(recent.first(block)).generated;
        for (std::size_t i = 0; i < produced; ++i) {
            replay_tail_[tail_head] = generated_[i];
            tail_head = (tail_head + 1) % replay_tail_.size();
        }
        recent = recent.subspan(block);
    }

    fifo_head_ = 0;
    fifo_size_ = std::min(static_cast<std::size_t>(in[2]), fifo_.size());
    for (std::size_t i = 0; i < fifo_.size(); ++i) fifo_[i] = in[3 + i];
    // A stream saved near its start owed fewer outputs than the replay, which ran from a longer
    // zero-filled past: drop what the saved one had already generated. The other way round,
    // the replay's last outputs are the ones the saved converter still owed.
    if (owed_ > saved_owed) {
        skip_ = owed_ - saved_owed;
    } else {
        const std::size_t extra = saved_owed - owed_;
        for (std::size_t i = 0; i < extra; ++i) {
            push(replay_tail_[(tail_head + replay_tail_.size() - extra + i) % replay_tail_.size()]);
        }
    }
    owed_ = saved_owed;
}

void StreamResampler::reset() noexcept {
    src_reset(converter_);
    phase_ = 0;
    owed_ = 0;
    skip_ = 0;
    std::fill(history_.begin(), history_.end(), 0.0f);
    history_head_ = 0;
    prime();
}

}  // namespace statestream::dsp

// Every stateful block can be snapshotted with the rest of its stream (dsp/stateful.hpp).
static_assert(statestream::dsp::StatefulBlock<statestream::dsp::StreamResampler>);
