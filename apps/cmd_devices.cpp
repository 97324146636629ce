// `statestream devices`: audio devices (through PortAudio) and CUDA devices this process sees.

#include <fmt/core.h>

#include "apps/json_schema.hpp"
#include "apps/subcommand.hpp"
#include "engine/io/audio_devices.hpp"
#include "models/cuda/cuda_devices.hpp"

namespace statestream::apps {

namespace {

nlohmann::ordered_json devices_json(const engine::io::AudioDeviceList& audio,
                                    const models::cuda::CudaDeviceList& gpus) {
    auto doc = json_document("devices", kDevicesSchemaVersion);
    doc["portaudio"] = audio.portaudio_version;
    doc["audio"] = nlohmann::ordered_json::array();
    for (const auto& d : audio.devices) {
        doc["audio"].push_back({{"index", d.index},
                                {"name", d.name},
                                {"host_api", d.host_api},
                                {"max_input_channels", d.max_input_channels},
                                {"max_output_channels", d.max_output_channels},
                                {"default_sample_rate_hz", d.default_sample_rate_hz},
                                {"default_low_input_latency_s", d.default_low_input_latency_s},
                                {"default_low_output_latency_s", d.default_low_output_latency_s},
                                {"default_input", d.default_input},
                                {"default_output", d.default_output}});
    }
    doc["cuda"] = {{"built_with_cuda", gpus.built_with_cuda},
                   {"why_none", gpus.why_none},
                   {"devices", nlohmann::ordered_json::array()}};
    for (const auto& g : gpus.devices) {
        doc["cuda"]["devices"].push_back(
            {{"index", g.index},
             {"name", g.name},
             {"compute_capability", fmt::format("{}.{}", g.compute_major, g.compute_minor)},
             {"multiprocessors", g.multiprocessors},
             {"memory_bytes", g.memory_bytes},
             {"runs_kernels", g.runs_kernels}});
    }
    return doc;
}

void print_devices_text(const engine::io::AudioDeviceList& audio,
                        const models::cuda::CudaDeviceList& gpus) {
    fmt::print("audio ({}):\n", audio.portaudio_version);
    if (audio.devices.empty()) fmt::print("  none found\n");
    for (const auto& d : audio.devices) {
        fmt::print("  [{}] {} ({}): {} in, {} out, {:.0f} Hz, low latency in {:.1f} ms / out "
                   "{:.1f} ms{}{}\n",
                   d.index, d.name, d.host_api, d.max_input_channels, d.max_output_channels,
                   d.default_sample_rate_hz, d.default_low_input_latency_s * 1000.0,
                   d.default_low_output_latency_s * 1000.0,
                   d.default_input ? " [default input]" : "",
                   d.default_output ? " [default output]" : "");
    }
    fmt::print("cuda:\n");
    if (gpus.devices.empty()) fmt::print("  none: {}\n", gpus.why_none);
    for (const auto& g : gpus.devices) {
        fmt::print("  [{}] {}: compute {}.{}, {} multiprocessors, {:.1f} GiB{}\n", g.index, g.name,
                   g.compute_major, g.compute_minor, g.multiprocessors,
                   static_cast<double>(g.memory_bytes) / (1ULL << 30),
                   g.runs_kernels ? "" : " (a probe kernel did not run: this build has no code "
                                         "for its architecture)");
    }
}

}  // namespace

Subcommand add_devices_command(CLI::App& parent) {
    auto json = std::make_shared<bool>(false);
    CLI::App* cli = parent.add_subcommand(
        "devices", "List audio devices (PortAudio: ALSA, JACK, PulseAudio) and CUDA devices.");
    cli->add_flag("--json", *json, "Print one JSON object (schema statestream.devices/1)");
    return {cli, [json]() {
                const auto audio = engine::io::list_audio_devices();
                const auto gpus = models::cuda::list_cuda_devices();
                if (*json) fmt::print("{}\n", devices_json(audio, gpus).dump(2));
                else print_devices_text(audio, gpus);
                return ExitCode::kSuccess;
            }};
}

}  // namespace statestream::apps
