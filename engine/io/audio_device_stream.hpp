#pragma once
// Live audio through PortAudio (ALSA, JACK or PulseAudio under it), wired to a RealtimeWorker:
// the audio callback pushes captured audio into the worker in the pipeline's input blocks and
// plays the worker's output blocks. The callback is the real-time path: it adapts the host's
// buffer size to the pipeline's block size in preallocated buffers, never waits for the worker,
// and counts every frame it could not deliver instead of stalling:
//
//   capture:  host frames -> block accumulator -> worker.push_input (full ring: block counted lost)
//   playback: worker.pop_output -> block cursor -> host frames (nothing ready: silence, counted)
//
// Capture only (live transcription: another thread drains the worker), playback only (a thread
// feeds the worker) and duplex (live enhancement) all use this one class. Mono: channel 1.
//
// A device that vanishes (USB unplugged, JACK server killed) stops the callbacks; health()
// reports it so the caller can end the run with what was produced so far.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/io/portaudio_session.hpp"
#include "engine/realtime_worker.hpp"

namespace statestream::engine::io {

struct AudioStreamConfig {
    std::optional<std::string> capture_device;   // find_audio_device() spec; empty: no capture
    std::optional<std::string> playback_device;  // empty: no playback
    double sample_rate_hz = 48000.0;
    // Host frames per callback; 0 lets the host choose (JACK: its period).
    std::size_t frames_per_buffer = 0;
    // Suggested host latency in seconds; 0 takes the device's default low latency.
    double suggested_latency_s = 0.0;
};

// Instrumentation entered and left around the project's code in every callback, on the audio
// thread (the real-time proof arms its allocation hooks here). Both must be real-time safe.
struct CallbackObserver {
    void (*enter)(void* context) noexcept = nullptr;
    void (*leave)(void* context) noexcept = nullptr;
    void* context = nullptr;
};

struct AudioStreamCounters {
    std::uint64_t callbacks = 0;
    std::uint64_t frames_captured = 0;         // frames the host gave us
    std::uint64_t blocks_pushed = 0;           // capture blocks the worker accepted
    std::uint64_t blocks_refused = 0;          // capture blocks lost: the worker's ring was full
    std::uint64_t frames_played = 0;           // frames handed to the host, silence included
    std::uint64_t blocks_played = 0;           // worker output blocks played
    std::uint64_t priming_frames = 0;          // silence before the first output block
    std::uint64_t underflow_frames = 0;        // silence later: no output block was ready
    std::uint64_t host_input_overflows = 0;    // callbacks whose status flagged lost input
    std::uint64_t host_output_underflows = 0;  // callbacks whose status flagged a gap in output
};

enum class AudioStreamHealth { kRunning, kStopped, kDeviceLost };

class AudioDeviceStream {
public:
    // Thread: setup. Opens the device(s) at the pipeline's input rate and block size: the
    // worker's pipeline input must be mono audio at config.sample_rate_hz, and with playback
    // its output too. Throws std::invalid_argument naming the device and what does not fit
    // (unknown device, too few channels, unsupported rate), std::runtime_error for PortAudio
    // failures.
    AudioDeviceStream(const AudioStreamConfig& config, RealtimeWorker& worker,
                      CallbackObserver observer = {});
    ~AudioDeviceStream();
    AudioDeviceStream(const AudioDeviceStream&) = delete;
    AudioDeviceStream& operator=(const AudioDeviceStream&) = delete;

    // Thread: setup/control. stop() after health() reported kDeviceLost leaves the stream to
    // the process's exit instead of waiting on a device that is gone.
    void start();
    void stop() noexcept;

    // Thread: any (relaxed reads).
    [[nodiscard]] AudioStreamCounters counters() const noexcept;
    // Thread: control. kDeviceLost when PortAudio reports the stream no longer active although
    // it was not stopped, or when no callback came for `callback_timeout`.
    [[nodiscard]] AudioStreamHealth health(std::chrono::milliseconds callback_timeout) const noexcept;
    // What was opened, with the host's reported latencies, for the user.
    [[nodiscard]] std::string describe() const;
    [[nodiscard]] double input_latency_s() const noexcept { return input_latency_s_; }
    [[nodiscard]] double output_latency_s() const noexcept { return output_latency_s_; }

private:
    static int on_audio(const void* input, void* output, unsigned long frames,
                        const void* time_info, unsigned long status_flags, void* self) noexcept;
    void capture(const float* input, std::size_t frames) noexcept;
    void play(float* output, std::size_t frames) noexcept;

    PortAudioSession session_;
    RealtimeWorker& worker_;
    CallbackObserver observer_;
    void* stream_ = nullptr;  // PaStream*
    bool capturing_ = false;
    bool playing_ = false;
    std::string description_;
    double input_latency_s_ = 0.0;
    double output_latency_s_ = 0.0;
    std::atomic<bool> started_{false};
    // Set once health() saw the device gone: PortAudio's stop and close may then wait forever
    // (JACK's host API waits for a server that no longer answers), so both are skipped.
    mutable std::atomic<bool> lost_{false};

    // Touched by the callback only, allocated at construction.
    std::vector<float> capture_block_;
    std::size_t capture_fill_ = 0;
    std::vector<float> playback_block_;
    std::size_t playback_cursor_ = 0;  // == block size: nothing left of the current block
    bool playback_primed_ = false;

    alignas(64) std::atomic<std::int64_t> last_callback_ns_{0};
    std::atomic<std::uint64_t> callbacks_{0}, frames_captured_{0}, blocks_pushed_{0},
        blocks_refused_{0}, frames_played_{0}, blocks_played_{0}, priming_frames_{0},
        underflow_frames_{0}, host_input_overflows_{0}, host_output_underflows_{0};
};

}  // namespace statestream::engine::io
