#pragma once
// A small LV2 host built on lilv for the plugin tests: it loads one bundle (not the user's LV2
// path), instantiates a plugin at a rate, keeps every control port's value in its own float
// (defaults from the plugin's TTL) and connects the audio ports to the caller's buffers on
// every run, as hosts do. run() can arm the allocation and lock hooks around the plugin's run()
// alone (tests/support/allocation_hooks.hpp).

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

typedef struct LilvWorldImpl LilvWorld;
typedef struct LilvPluginImpl LilvPlugin;
typedef struct LilvInstanceImpl LilvInstance;

namespace statestream::test {

inline const std::filesystem::path kEnhancerBundle(STATESTREAM_LV2_BUNDLE_DIR);
inline constexpr const char* kMonoUri = "urn:statestream:enhancer";
inline constexpr const char* kStereoUri = "urn:statestream:enhancer-stereo";

class Lv2TestHost {
public:
    // Thread: setup. Throws std::runtime_error when the bundle or the plugin is not found;
    // a plugin whose instantiate() fails leaves instantiated() false.
    Lv2TestHost(const std::string& plugin_uri, double rate_hz,
                const std::filesystem::path& bundle = kEnhancerBundle);
    ~Lv2TestHost();
    Lv2TestHost(const Lv2TestHost&) = delete;
    Lv2TestHost& operator=(const Lv2TestHost&) = delete;

    [[nodiscard]] bool instantiated() const noexcept { return instance_ != nullptr; }
    [[nodiscard]] std::size_t audio_inputs() const noexcept { return audio_in_.size(); }
    [[nodiscard]] std::size_t audio_outputs() const noexcept { return audio_out_.size(); }

    // Control ports by symbol; throws std::out_of_range naming an unknown one.
    void set(const std::string& symbol, float value);
    [[nodiscard]] float get(const std::string& symbol) const;

    void activate();
    void deactivate();

    // One run() of `frames` frames: in[c] and out[c] point at `frames` floats.
    void run(std::span<const float* const> in, std::span<float* const> out, std::uint32_t frames,
             bool armed = false);

    // Whole signals (channel-major) through run() in pieces whose sizes cycle through `pieces`.
    [[nodiscard]] std::vector<std::vector<float>> process(const std::vector<std::vector<float>>& in,
                                                          std::span<const std::size_t> pieces,
                                                          bool armed = false);

private:
    [[nodiscard]] std::size_t control_index(const std::string& symbol) const;

    LilvWorld* world_ = nullptr;
    const LilvPlugin* plugin_ = nullptr;
    LilvInstance* instance_ = nullptr;
    bool active_ = false;
    std::vector<std::uint32_t> audio_in_;   // port indices
    std::vector<std::uint32_t> audio_out_;
    std::vector<std::string> symbols_;      // per port
    std::vector<float> controls_;           // per port; used for control ports only
};

}  // namespace statestream::test
