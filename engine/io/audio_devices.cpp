#include "engine/io/audio_devices.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <string>

#include <fmt/core.h>

#include <portaudio.h>

#include "engine/io/portaudio_session.hpp"

namespace statestream::engine::io {

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

namespace {

std::string lowercase(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

bool has_channels(const AudioDevice& device, AudioDirection direction) {
    return direction == AudioDirection::kCapture ? device.max_input_channels > 0
                                                 : device.max_output_channels > 0;
}

std::string candidates(const AudioDeviceList& list, AudioDirection direction) {
    std::string names;
    for (const auto& device : list.devices) {
        if (!has_channels(device, direction)) continue;
        names += fmt::format("\n  [{}] {} ({})", device.index, device.name, device.host_api);
    }
    return names.empty() ? std::string("\n  (none)") : names;
}

}  // namespace

const char* direction_name(AudioDirection direction) noexcept {
    return direction == AudioDirection::kCapture ? "capture" : "playback";
}

const AudioDevice& find_audio_device(const AudioDeviceList& list, const std::string& spec,
                                     AudioDirection direction) {
    const char* what = direction_name(direction);
    const bool all_digits = !spec.empty() && std::all_of(spec.begin(), spec.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c)) != 0;
    });
    std::vector<const AudioDevice*> matches;
    if (spec.empty() || spec == "default") {
        for (const auto& device : list.devices) {
            const bool is_default = direction == AudioDirection::kCapture ? device.default_input
                                                                          : device.default_output;
            if (is_default) matches.push_back(&device);
        }
    } else if (all_digits) {
        for (const auto& device : list.devices) {
            if (std::to_string(device.index) == spec) matches.push_back(&device);
        }
    } else {
        const std::string wanted = lowercase(spec);
        for (const auto& device : list.devices) {
            if (!has_channels(device, direction)) continue;
            const std::string name = lowercase(device.name);
            if (name == wanted) return device;  // an exact name beats any partial ones
            if (name.find(wanted) != std::string::npos) matches.push_back(&device);
        }
    }
    if (matches.empty()) {
        throw std::invalid_argument(fmt::format(
            "no {} device matches '{}'; give an index or part of a name from this list "
            "(`statestream devices` shows rates and latencies):{}",
            what, spec, candidates(list, direction)));
    }
    if (matches.size() > 1) {
        std::string names;
        for (const auto* device : matches) names += fmt::format("\n  [{}] {}", device->index, device->name);
        throw std::invalid_argument(fmt::format(
            "'{}' matches {} {} devices; give the index or a longer part of the name:{}", spec,
            matches.size(), what, names));
    }
    if (!has_channels(*matches.front(), direction)) {
        throw std::invalid_argument(fmt::format(
            "device [{}] {} has no {} channels; {} devices:{}", matches.front()->index,
            matches.front()->name, what, what, candidates(list, direction)));
    }
    return *matches.front();
}

}  // namespace statestream::engine::io
