#include "engine/io/audio_device_stream.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <fmt/core.h>
#include <portaudio.h>

#include "engine/io/audio_devices.hpp"
#include "engine/single_writer_counter.hpp"

namespace statestream::engine::io {

namespace {

std::int64_t monotonic_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

PaStreamParameters stream_parameters(const AudioDevice& device, AudioDirection direction,
                                     double suggested_latency_s) {
    PaStreamParameters parameters{};
    parameters.device = device.index;
    parameters.channelCount = 1;
    parameters.sampleFormat = paFloat32;
    const double default_low = direction == AudioDirection::kCapture
                                   ? device.default_low_input_latency_s
                                   : device.default_low_output_latency_s;
    parameters.suggestedLatency = suggested_latency_s > 0.0 ? suggested_latency_s : default_low;
    parameters.hostApiSpecificStreamInfo = nullptr;
    return parameters;
}

void require_audio_shape(const StageShape& shape, double rate_hz, const char* side) {
    if (shape.dim != 1 || shape.rate_hz != rate_hz) {
        throw std::invalid_argument(fmt::format(
            "the pipeline's {} is {}-dimensional at {} Hz, but a live audio device carries mono "
            "audio at {} Hz; start the pipeline with audio at the device's rate (add a resample "
            "stage after it)",
            side, shape.dim, shape.rate_hz, rate_hz));
    }
}

}  // namespace

AudioDeviceStream::AudioDeviceStream(const AudioStreamConfig& config, RealtimeWorker& worker,
                                     CallbackObserver observer)
    : worker_(worker), observer_(observer) {
    capturing_ = config.capture_device.has_value();
    playing_ = config.playback_device.has_value();
    if (!capturing_ && !playing_) {
        throw std::invalid_argument("an audio stream needs a capture device, a playback device "
                                    "or both");
    }
    const Pipeline& pipeline = worker.pipeline();
    if (capturing_) require_audio_shape(pipeline.input(), config.sample_rate_hz, "input");
    if (playing_) require_audio_shape(pipeline.output(), config.sample_rate_hz, "output");
    capture_block_.assign(pipeline.input().floats(), 0.0f);
    playback_block_.assign(pipeline.output().floats(), 0.0f);
    playback_cursor_ = playback_block_.size();

    const AudioDeviceList devices = list_audio_devices();
    PaStreamParameters input_parameters{};
    PaStreamParameters output_parameters{};
    std::string capture_name;
    std::string playback_name;
    const auto open_side = [&](const std::string& spec, AudioDirection direction,
                               PaStreamParameters& parameters, std::string& name) {
        const AudioDevice& device = find_audio_device(devices, spec, direction);
        parameters = stream_parameters(device, direction, config.suggested_latency_s);
        name = fmt::format("[{}] {} ({})", device.index, device.name, device.host_api);
    };
    if (capturing_) open_side(*config.capture_device, AudioDirection::kCapture, input_parameters, capture_name);
    if (playing_) open_side(*config.playback_device, AudioDirection::kPlayback, output_parameters, playback_name);
    const PaStreamParameters* in = capturing_ ? &input_parameters : nullptr;
    const PaStreamParameters* out = playing_ ? &output_parameters : nullptr;
    const PaError supported = Pa_IsFormatSupported(in, out, config.sample_rate_hz);
    if (supported != paFormatIsSupported) {
        throw std::invalid_argument(fmt::format(
            "the audio device{} cannot run mono float audio at {} Hz: {}; choose a rate the "
            "device lists in `statestream devices`, or a different device",
            capturing_ ? " " + capture_name : "", config.sample_rate_hz,
            Pa_GetErrorText(supported)));
    }
    const unsigned long frames_per_buffer =
        config.frames_per_buffer == 0 ? paFramesPerBufferUnspecified
                                      : static_cast<unsigned long>(config.frames_per_buffer);
    PaStream* stream = nullptr;
    const PaError opened =
        Pa_OpenStream(&stream, in, out, config.sample_rate_hz, frames_per_buffer, paNoFlag,
                      reinterpret_cast<PaStreamCallback*>(&AudioDeviceStream::on_audio), this);
    if (opened != paNoError) {
        throw std::runtime_error(fmt::format("PortAudio could not open the audio stream ({}{}{}): {}",
                                             capture_name, capturing_ && playing_ ? " -> " : "",
                                             playback_name, Pa_GetErrorText(opened)));
    }
    stream_ = stream;
    const PaStreamInfo* info = Pa_GetStreamInfo(stream);
    if (info != nullptr) {
        input_latency_s_ = info->inputLatency;
        output_latency_s_ = info->outputLatency;
    }
    description_ = fmt::format("{}{}{} at {} Hz, pipeline block {} frames", capture_name,
                               capturing_ && playing_ ? " -> " : "", playback_name,
                               config.sample_rate_hz, capture_block_.size());
    if (capturing_) description_ += fmt::format(", input latency {:.1f} ms", input_latency_s_ * 1e3);
    if (playing_) description_ += fmt::format(", output latency {:.1f} ms", output_latency_s_ * 1e3);
}

AudioDeviceStream::~AudioDeviceStream() {
    stop();
    if (lost_.load(std::memory_order_acquire)) {
        session_.abandon();
        return;
    }
    if (stream_ != nullptr) Pa_CloseStream(static_cast<PaStream*>(stream_));
}

void AudioDeviceStream::start() {
    if (started_.load(std::memory_order_relaxed)) return;
    // A device that never calls back counts as lost from the start.
    last_callback_ns_.store(monotonic_ns(), std::memory_order_relaxed);
    const PaError status = Pa_StartStream(static_cast<PaStream*>(stream_));
    if (status != paNoError) {
        throw std::runtime_error(fmt::format("PortAudio could not start the audio stream ({}): {}",
                                             description_, Pa_GetErrorText(status)));
    }
    started_.store(true, std::memory_order_release);
}

void AudioDeviceStream::stop() noexcept {
    if (!started_.exchange(false)) return;
    if (lost_.load(std::memory_order_acquire)) return;
    (void)Pa_StopStream(static_cast<PaStream*>(stream_));
}

int AudioDeviceStream::on_audio(const void* input, void* output, unsigned long frames,
                                const void* /*time_info*/, unsigned long status_flags,
                                void* opaque) noexcept {
    auto& self = *static_cast<AudioDeviceStream*>(opaque);
    if (self.observer_.enter != nullptr) self.observer_.enter(self.observer_.context);
    self.last_callback_ns_.store(monotonic_ns(), std::memory_order_relaxed);
    increment_single_writer(self.callbacks_);
    if ((status_flags & (paInputOverflow | paInputUnderflow)) != 0) {
        increment_single_writer(self.host_input_overflows_);
    }
    if ((status_flags & (paOutputUnderflow | paOutputOverflow)) != 0) {
        increment_single_writer(self.host_output_underflows_);
    }
    if (self.capturing_ && input != nullptr) self.capture(static_cast<const float*>(input), frames);
    if (self.playing_ && output != nullptr) self.play(static_cast<float*>(output), frames);
    if (self.observer_.leave != nullptr) self.observer_.leave(self.observer_.context);
    return paContinue;
}

void AudioDeviceStream::capture(const float* input, std::size_t frames) noexcept {
    const std::size_t block = capture_block_.size();
    std::size_t taken = 0;
    while (taken < frames) {
        const std::size_t n = std::min(frames - taken, block - capture_fill_);
        std::memcpy(capture_block_.data() + capture_fill_, input + taken, n * sizeof(float));
        capture_fill_ += n;
        taken += n;
        if (capture_fill_ == block) {
            increment_single_writer(worker_.push_input(capture_block_) ? blocks_pushed_
                                                                       : blocks_refused_);
            capture_fill_ = 0;
        }
    }
    add_single_writer(frames_captured_, frames);
}

void AudioDeviceStream::play(float* output, std::size_t frames) noexcept {
    const std::size_t block = playback_block_.size();
    std::size_t written = 0;
    while (written < frames) {
        if (playback_cursor_ == block) {
            if (!worker_.pop_output(playback_block_)) {
                // Nothing ready: silence for the rest of this buffer, counted; the block that
                // arrives later is played then, in order.
                const std::size_t gap = frames - written;
                std::memset(output + written, 0, gap * sizeof(float));
                add_single_writer(playback_primed_ ? underflow_frames_ : priming_frames_, gap);
                written = frames;
                break;
            }
            playback_primed_ = true;
            playback_cursor_ = 0;
            increment_single_writer(blocks_played_);
        }
        const std::size_t n = std::min(frames - written, block - playback_cursor_);
        std::memcpy(output + written, playback_block_.data() + playback_cursor_, n * sizeof(float));
        playback_cursor_ += n;
        written += n;
    }
    add_single_writer(frames_played_, frames);
}

AudioStreamCounters AudioDeviceStream::counters() const noexcept {
    constexpr auto relaxed = std::memory_order_relaxed;
    return {callbacks_.load(relaxed),         frames_captured_.load(relaxed),
            blocks_pushed_.load(relaxed),     blocks_refused_.load(relaxed),
            frames_played_.load(relaxed),     blocks_played_.load(relaxed),
            priming_frames_.load(relaxed),    underflow_frames_.load(relaxed),
            host_input_overflows_.load(relaxed), host_output_underflows_.load(relaxed)};
}

AudioStreamHealth AudioDeviceStream::health(std::chrono::milliseconds callback_timeout) const noexcept {
    if (!started_.load(std::memory_order_acquire)) return AudioStreamHealth::kStopped;
    if (lost_.load(std::memory_order_acquire)) return AudioStreamHealth::kDeviceLost;
    const std::int64_t last = last_callback_ns_.load(std::memory_order_relaxed);
    const std::int64_t timeout_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(callback_timeout).count();
    if (Pa_IsStreamActive(static_cast<PaStream*>(stream_)) != 1 ||
        monotonic_ns() - last > timeout_ns) {
        lost_.store(true, std::memory_order_release);
        return AudioStreamHealth::kDeviceLost;
    }
    return AudioStreamHealth::kRunning;
}

std::string AudioDeviceStream::describe() const { return description_; }

}  // namespace statestream::engine::io
