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

}  // namespace statestream::engine::io
