// The LV2 entry points of the statestream enhancer (docs/plugin.md): a mono and a linked stereo
// plugin over EnhancerProcessor. Setup happens in instantiate() (the model from the bundle, every
// buffer, the measured latency); run() only moves samples through preallocated buffers, steps
// the model and writes the output ports: no allocation, lock or I/O.

#include <lv2/core/lv2.h>
#include <lv2/log/log.h>
#include <lv2/urid/urid.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>

#include "models/model_file.hpp"
#include "models/ssm_model.hpp"
#include "plugins/lv2/enhancer_processor.hpp"
#include "plugins/lv2/run_load_meter.hpp"
#include "plugins/lv2/scoped_flush_to_zero.hpp"

namespace statestream::plugins {
namespace {

constexpr const char* kMonoUri = "urn:statestream:enhancer";
constexpr const char* kStereoUri = "urn:statestream:enhancer-stereo";
// The model ships inside the bundle; no user path, no network.
constexpr const char* kModelFileName = "enhancer.safetensors";
constexpr std::size_t kMaxChannels = 2;

// Control ports follow the audio ports in the same order in both plugins (enhancer.ttl).
enum ControlPort : std::uint32_t {
    kStrength,
    kAttenuationLimit,
    kEnabled,
    kLatency,
    kCpuLoad,
    kCpuLoadPeak,
    kSanitised,
    kControlPorts,
};

// Messages from instantiate(): the host's log when it offers one, stderr otherwise.
class SetupLog {
public:
    explicit SetupLog(const LV2_Feature* const* features) {
        const LV2_URID_Map* map = nullptr;
        for (std::size_t i = 0; features != nullptr && features[i] != nullptr; ++i) {
            if (std::strcmp(features[i]->URI, LV2_LOG__log) == 0) {
                log_ = static_cast<const LV2_Log_Log*>(features[i]->data);
            } else if (std::strcmp(features[i]->URI, LV2_URID__map) == 0) {
                map = static_cast<const LV2_URID_Map*>(features[i]->data);
            }
        }
        if (log_ != nullptr && map != nullptr) {
            error_ = map->map(map->handle, LV2_LOG__Error);
        } else {
            log_ = nullptr;
        }
    }

    void error(const std::string& message) const {
        if (log_ != nullptr) {
            log_->printf(log_->handle, error_, "statestream enhancer: %s\n", message.c_str());
        } else {
            std::fprintf(stderr, "statestream enhancer: %s\n", message.c_str());
        }
    }

private:
    const LV2_Log_Log* log_ = nullptr;
    LV2_URID error_ = 0;
};

class EnhancerPlugin {
public:
    EnhancerPlugin(const std::filesystem::path& model_path, std::uint32_t rate_hz, std::size_t channels)
        : file_(models::ModelFile::load(model_path)),
          model_(file_),
          processor_(model_, rate_hz, channels),
          meter_(rate_hz) {}

    void connect(std::uint32_t port, void* data) noexcept {
        const std::size_t channels = processor_.channels();
        if (port < channels) {
            in_[port] = static_cast<const float*>(data);
        } else if (port < 2 * channels) {
            out_[port - channels] = static_cast<float*>(data);
        } else if (port - 2 * channels < kControlPorts) {
            controls_[port - 2 * channels] = static_cast<float*>(data);
        }
    }

    void activate() noexcept {
        processor_.set_controls(read_controls());
        processor_.reset();
        meter_.reset();
    }

    void run(std::uint32_t frames) noexcept {
        const auto start = std::chrono::steady_clock::now();
        {
            const ScopedFlushToZero flush;
            const std::size_t channels = processor_.channels();
            bool connected = true;
            for (std::size_t c = 0; c < channels; ++c) connected = connected && in_[c] && out_[c];
            if (connected) {
                processor_.set_controls(read_controls());
                processor_.process(std::span<const float* const>(in_.data(), channels),
                                   std::span<float* const>(out_.data(), channels), frames);
            }
        }
        meter_.note(std::chrono::steady_clock::now() - start, frames);
        write(kLatency, static_cast<float>(processor_.latency_samples()));
        write(kCpuLoad, meter_.last_percent());
        write(kCpuLoadPeak, meter_.peak_percent());
        write(kSanitised, static_cast<float>(processor_.sanitised_samples()));
    }

private:
    [[nodiscard]] PluginControls read_controls() const noexcept {
        PluginControls controls;
        if (controls_[kStrength]) controls.strength = *controls_[kStrength];
        if (controls_[kAttenuationLimit]) controls.attenuation_limit_db = *controls_[kAttenuationLimit];
        if (controls_[kEnabled]) controls.enabled = *controls_[kEnabled] > 0.5f;
        return controls;
    }

    void write(ControlPort port, float value) noexcept {
        if (controls_[port]) *controls_[port] = value;
    }

    models::ModelFile file_;
    models::SsmModel model_;
    EnhancerProcessor processor_;
    RunLoadMeter meter_;
    std::array<const float*, kMaxChannels> in_{};
    std::array<float*, kMaxChannels> out_{};
    std::array<float*, kControlPorts> controls_{};
};

LV2_Handle instantiate(const LV2_Descriptor* descriptor, double rate, const char* bundle_path,
                       const LV2_Feature* const* features) {
    const SetupLog log(features);
    const std::size_t channels = std::strcmp(descriptor->URI, kStereoUri) == 0 ? 2 : 1;
    const double whole_rate = std::round(rate);
    if (!(whole_rate >= 1.0 && whole_rate <= 1e6) || std::abs(rate - whole_rate) > 1e-6) {
        log.error("cannot run at " + std::to_string(rate) + " Hz: the rate must be a whole number of Hz");
        return nullptr;
    }
    const std::filesystem::path model_path =
        std::filesystem::path(bundle_path != nullptr ? bundle_path : "") / kModelFileName;
    try {
        return new EnhancerPlugin(model_path, static_cast<std::uint32_t>(whole_rate), channels);
    } catch (const std::exception& error) {
        log.error(std::string("cannot start: ") + error.what());
    } catch (...) {
        log.error("cannot start: an unknown error");
    }
    return nullptr;
}

void connect_port(LV2_Handle instance, std::uint32_t port, void* data) {
    static_cast<EnhancerPlugin*>(instance)->connect(port, data);
}

void activate(LV2_Handle instance) { static_cast<EnhancerPlugin*>(instance)->activate(); }

void run(LV2_Handle instance, std::uint32_t n_samples) {
    static_cast<EnhancerPlugin*>(instance)->run(n_samples);
}

void deactivate(LV2_Handle) {}

void cleanup(LV2_Handle instance) { delete static_cast<EnhancerPlugin*>(instance); }

const void* extension_data(const char*) { return nullptr; }

constexpr LV2_Descriptor kMono = {kMonoUri, instantiate, connect_port, activate, run,
                                  deactivate, cleanup, extension_data};
constexpr LV2_Descriptor kStereo = {kStereoUri, instantiate, connect_port, activate, run,
                                    deactivate, cleanup, extension_data};

}  // namespace
}  // namespace statestream::plugins

LV2_SYMBOL_EXPORT const LV2_Descriptor* lv2_descriptor(std::uint32_t index) {
    switch (index) {
        case 0: return &statestream::plugins::kMono;
        case 1: return &statestream::plugins::kStereo;
        default: return nullptr;
    }
}
