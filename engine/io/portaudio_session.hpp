#pragma once
// PortAudio for the duration of a scope: Pa_Initialize on construction, Pa_Terminate on
// destruction (PortAudio counts them, so sessions nest). While PortAudio probes for ALSA cards
// and a JACK server, ALSA and libjack print dozens of lines to stderr that are not errors of
// ours; they are silenced for the probe only (STATESTREAM_AUDIO_DEBUG=1 keeps them). PortAudio's
// own result is still checked and reported.

namespace statestream::engine::io {

// The JACK client name PortAudio registers, so users see "statestream:in_1" in their graph.
inline constexpr const char* kJackClientName = "statestream";

class PortAudioSession {
public:
    // Thread: setup. Throws std::runtime_error with PortAudio's message when it cannot start.
    PortAudioSession();
    ~PortAudioSession();
    PortAudioSession(const PortAudioSession&) = delete;
    PortAudioSession& operator=(const PortAudioSession&) = delete;

    // Thread: setup. Leaves PortAudio running at destruction: after a device vanished, tearing
    // down its host API can wait forever on a server that is gone (JACK), and the process is
    // about to report and exit anyway.
    void abandon() noexcept { abandoned_ = true; }

private:
    bool abandoned_ = false;
};

}  // namespace statestream::engine::io
