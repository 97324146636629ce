#pragma once
// Audio devices as PortAudio sees them (ALSA, JACK, PulseAudio under it), for
// `statestream devices` and for choosing --input/--output by index or name.

#include <string>
#include <vector>

namespace statestream::engine::io {

struct AudioDevice {
    int index = 0;              // PortAudio device index, stable while the process runs
    std::string name;
    std::string host_api;       // "ALSA", "JACK Audio Connection Kit", ...
    int max_input_channels = 0;
    int max_output_channels = 0;
    double default_sample_rate_hz = 0.0;
    double default_low_input_latency_s = 0.0;
    double default_low_output_latency_s = 0.0;
    bool default_input = false;
    bool default_output = false;
};

struct AudioDeviceList {
    std::string portaudio_version;
    std::vector<AudioDevice> devices;
};

// Thread: setup. Initialises PortAudio for the duration of the call. Throws std::runtime_error
// with PortAudio's message when the library cannot start.
[[nodiscard]] AudioDeviceList list_audio_devices();

enum class AudioDirection { kCapture, kPlayback };
[[nodiscard]] const char* direction_name(AudioDirection direction) noexcept;

// The device a user means by `spec`: "default" (or empty) for the host's default, a number for
// that index, otherwise a case-insensitive part of the name ("system", "USB"); an exact name
// wins over partial matches. Throws std::invalid_argument when none or several match, or when
// the device has no channels in that direction, listing the devices to choose from.
[[nodiscard]] const AudioDevice& find_audio_device(const AudioDeviceList& list,
                                                   const std::string& spec,
                                                   AudioDirection direction);

}  // namespace statestream::engine::io
