#include "engine/io/audio_devices.hpp"

#include <cstdlib>
#include <stdexcept>

#include <fcntl.h>
#include <portaudio.h>
#include <unistd.h>

namespace statestream::engine::io {

namespace {

// ALSA and libjack print dozens of lines to stderr while PortAudio probes for cards and a JACK
// server that are not there; they are not errors of ours and bury the real output. They are
// silenced for the probe only; STATESTREAM_AUDIO_DEBUG=1 keeps them for diagnosis. PortAudio's
// own result is still checked and reported.
class ProbeNoiseSilencer {
public:
    ProbeNoiseSilencer() {
        const char* debug = std::getenv("STATESTREAM_AUDIO_DEBUG");
        if (debug != nullptr && debug[0] == '1') return;
        saved_stderr_ = ::dup(STDERR_FILENO);
        const int null_fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (saved_stderr_ >= 0 && null_fd >= 0) ::dup2(null_fd, STDERR_FILENO);
        if (null_fd >= 0) ::close(null_fd);
    }
    ~ProbeNoiseSilencer() {
        if (saved_stderr_ < 0) return;
        ::dup2(saved_stderr_, STDERR_FILENO);
        ::close(saved_stderr_);
    }
    ProbeNoiseSilencer(const ProbeNoiseSilencer&) = delete;
    ProbeNoiseSilencer& operator=(const ProbeNoiseSilencer&) = delete;

private:
    int saved_stderr_ = -1;
};

// Pa_Initialize/Pa_Terminate are reference counted; this pairs them on every path out.
class PortAudioSession {
public:
    PortAudioSession() {
        const PaError status = [] {
            const ProbeNoiseSilencer quiet;
            return Pa_Initialize();
        }();
        if (status != paNoError) {
            throw std::runtime_error(std::string("PortAudio could not start: ") +
                                     Pa_GetErrorText(status));
        }
    }
    ~PortAudioSession() { Pa_Terminate(); }
    PortAudioSession(const PortAudioSession&) = delete;
    PortAudioSession& operator=(const PortAudioSession&) = delete;
};

}  // namespace

AudioDeviceList list_audio_devices() {
    const PortAudioSession session;
    AudioDeviceList list;
    list.portaudio_version = Pa_GetVersionText();
    const PaDeviceIndex count = Pa_GetDeviceCount();
    if (count < 0) {
        throw std::runtime_error(std::string("PortAudio could not list devices: ") +
                                 Pa_GetErrorText(count));
    }
    const PaDeviceIndex default_input = Pa_GetDefaultInputDevice();
    const PaDeviceIndex default_output = Pa_GetDefaultOutputDevice();
    for (PaDeviceIndex i = 0; i < count; ++i) {
        const PaDeviceInfo* info = Pa_GetDeviceInfo(i);
        if (info == nullptr) continue;
        const PaHostApiInfo* api = Pa_GetHostApiInfo(info->hostApi);
        AudioDevice device;
        device.index = i;
        device.name = info->name != nullptr ? info->name : "";
        device.host_api = api != nullptr && api->name != nullptr ? api->name : "";
        device.max_input_channels = info->maxInputChannels;
        device.max_output_channels = info->maxOutputChannels;
        device.default_sample_rate_hz = info->defaultSampleRate;
        device.default_low_input_latency_s = info->defaultLowInputLatency;
        device.default_low_output_latency_s = info->defaultLowOutputLatency;
        device.default_input = i == default_input;
        device.default_output = i == default_output;
        list.devices.push_back(device);
    }
    return list;
}

}  // namespace statestream::engine::io
