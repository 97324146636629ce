// The plugin in real hosts and tools, as separate processes: lv2_validate accepts its TTL,
// lv2apply (one frame per run()) gives what `statestream enhance` gives on the same file, jalv
// runs it on a JACK server (dummy driver) for a few seconds, and `cmake --install` puts a
// bundle that loads where LV2 hosts look. Release tree (label host).

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <sndfile.h>

#include "tests/plugins/lv2_test_host.hpp"
#include "tests/plugins/piped_process.hpp"
#include "tests/plugins/plugin_signals.hpp"
#include "tests/support/jack_loopback_client.hpp"
#include "tests/support/jack_server.hpp"
#include "tests/support/run_process.hpp"

using namespace statestream::test;

namespace {

const std::filesystem::path kData(STATESTREAM_DATA_DIR);

struct Audio {
    int rate = 0;
    int channels = 0;
    std::vector<float> interleaved;
    [[nodiscard]] std::size_t frames() const { return interleaved.size() / channels; }
    [[nodiscard]] std::vector<float> channel(int c) const {
        std::vector<float> out(frames());
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = interleaved[i * channels + c];
        return out;
    }
};

Audio read_audio(const std::filesystem::path& path) {
    SF_INFO info{};
    SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
    if (file == nullptr) throw std::runtime_error("cannot read " + path.string());
    Audio audio{info.samplerate, info.channels,
                std::vector<float>(static_cast<std::size_t>(info.frames * info.channels))};
    sf_readf_float(file, audio.interleaved.data(), info.frames);
    sf_close(file);
    return audio;
}

// 32-bit float WAV: what lv2apply reads and writes back in the same format, without rounding.
void write_float_wav(const std::filesystem::path& path, const Audio& audio) {
    SF_INFO info{};
    info.samplerate = audio.rate;
    info.channels = audio.channels;
    info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
    if (file == nullptr) throw std::runtime_error("cannot write " + path.string());
    sf_writef_float(file, audio.interleaved.data(), static_cast<sf_count_t>(audio.frames()));
    sf_close(file);
}

std::filesystem::path scratch_dir(const std::string& name) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("statestream-lv2-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

// The plugin's latency port at `rate`, as a host reads it after one run().
std::size_t latency_port(const char* uri, double rate) {
    Lv2TestHost host(uri, rate);
    REQUIRE(host.instantiated());
    host.activate();
    std::vector<std::vector<float>> silence(host.audio_inputs(), std::vector<float>(1, 0.0f));
    const std::size_t one = 1;
    (void)host.process(silence, std::span<const std::size_t>(&one, 1));
    return static_cast<std::size_t>(host.get("latency"));
}

// "symbol = value" lines as jalv prints them, every value seen per symbol in order.
std::map<std::string, std::vector<double>> printed_controls(const std::string& text) {
    std::map<std::string, std::vector<double>> values;
    const std::regex line(R"(([a-z_]+) = (-?[0-9.]+(?:[eE][-+]?[0-9]+)?))");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), line); it != std::sregex_iterator(); ++it) {
        values[(*it)[1]].push_back(std::stod((*it)[2]));
    }
    return values;
}

std::vector<std::string> wait_for_ports(const JackLoopbackClient& client, const std::string& pattern) {
    for (int attempt = 0; attempt < 200; ++attempt) {
        auto ports = client.ports(pattern);
        if (!ports.empty()) return ports;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return {};
}

}  // namespace

TEST_CASE("lv2_validate accepts the bundle's TTL", "[plugins][lv2][tools]") {
    const auto result = run_process({STATESTREAM_LV2_VALIDATE, (kEnhancerBundle / "manifest.ttl").string(),
                                     (kEnhancerBundle / "enhancer.ttl").string()});
    std::printf("lv2_validate:\n%s%s\n", result.out.c_str(), result.err.c_str());
    INFO(result.out << result.err);
    CHECK(result.exit_code == 0);
    CHECK_THAT(result.out + result.err, Catch::Matchers::Contains("Found 0 errors"));
}

TEST_CASE("lv2apply: a file through the plugin equals `statestream enhance` on it, after the "
          "reported latency", "[plugins][lv2][tools]") {
    struct Case {
        const char* name;
        int rate;
        int channels;
        const char* uri;
        std::vector<std::string> plugin_controls;  // lv2apply -c SYM VAL, flattened
        std::vector<std::string> enhance_options;
    };
    const std::vector<Case> cases = {
        {"48 kHz, defaults", 48000, 1, kMonoUri, {}, {}},
        {"48 kHz, strength 0.5", 48000, 1, kMonoUri, {"strength", "0.5"}, {"--strength", "0.5"}},
        {"48 kHz, attenuation limit 12 dB", 48000, 1, kMonoUri, {"atten_limit", "12"}, {"--atten-limit-db", "12"}},
        {"44.1 kHz (resampled around the model)", 44100, 1, kMonoUri, {}, {}},
        {"48 kHz stereo, equal sides", 48000, 2, kStereoUri, {}, {}},
    };
    // Speech in babble-like clicks from the held-out slice; four seconds keep lv2apply (one
    // frame per run) quick.
    const Audio clip = read_audio(kData / "fixtures" / "enhance_slice" / "48k_001_clicks_+0dB.noisy.wav");
    REQUIRE(clip.channels == 1);
    const std::size_t frames = std::min<std::size_t>(clip.frames(), 4 * 48000);
    const auto dir = scratch_dir("apply");
    for (const Case& c : cases) {
        CAPTURE(c.name);
        Audio input{c.rate, c.channels, {}};
        for (std::size_t i = 0; i < frames; ++i) {
            for (int ch = 0; ch < c.channels; ++ch) input.interleaved.push_back(clip.interleaved[i]);
        }
        const auto in_path = dir / "in.wav";
        const auto plugin_path = dir / "plugin.wav";
        const auto enhance_path = dir / "enhance.wav";
        write_float_wav(in_path, input);

        std::vector<std::string> apply = {"/usr/bin/env", "LV2_PATH=" + kEnhancerBundle.parent_path().string(),
                                          STATESTREAM_LV2APPLY, "-i", in_path.string(), "-o", plugin_path.string()};
        for (std::size_t k = 0; k + 1 < c.plugin_controls.size(); k += 2) {
            apply.insert(apply.end(), {"-c", c.plugin_controls[k], c.plugin_controls[k + 1]});
        }
        apply.push_back(c.uri);
        const auto applied = run_process(apply);
        INFO("lv2apply: " << applied.out << applied.err);
        REQUIRE(applied.exit_code == 0);
        std::vector<std::string> enhance = {STATESTREAM_EXE, "enhance", in_path.string(), enhance_path.string()};
        enhance.insert(enhance.end(), c.enhance_options.begin(), c.enhance_options.end());
        const auto enhanced = run_process(enhance);
        INFO("statestream enhance: " << enhanced.out << enhanced.err);
        REQUIRE(enhanced.exit_code == 0);

        const Audio plugin = read_audio(plugin_path);
        const Audio reference = read_audio(enhance_path);
        REQUIRE(plugin.frames() == frames);
        REQUIRE(plugin.channels == c.channels);
        const std::size_t latency = latency_port(c.uri, c.rate);
        for (int ch = 0; ch < c.channels; ++ch) {
            const std::vector<float> got = plugin.channel(ch);
            const std::vector<float> want = reference.channel(ch);
            const auto aligned = std::span<const float>(got).subspan(latency);
            const auto expected = std::span<const float>(want).first(aligned.size());
            const double difference = max_difference(aligned, expected);
            const double peak = max_abs(expected);
            std::printf("lv2apply vs statestream enhance, %s, channel %d: latency %zu, largest difference "
                        "%.3g (peak %.3g)\n", c.name, ch + 1, latency, difference, peak);
            // The model changes this audio, so an unenhanced or misaligned output would show.
            REQUIRE(max_difference(expected, std::span<const float>(input.channel(ch)).first(expected.size())) >
                    0.1 * peak);
            CHECK(difference <= 1e-5 * peak);
        }
    }
    std::filesystem::remove_all(dir);
}

TEST_CASE("jalv runs the plugin on a JACK server: audio in, enhanced audio out, CPU per period "
          "reported", "[plugins][lv2][tools][jack]") {
    JackServerConfig config;
    config.period_frames = 256;  // 5.3 ms at 48 kHz: the period the CPU figure is given for
    const JackServer server(config);
    const std::size_t expected_latency = latency_port(kMonoUri, config.rate_hz);
    const std::vector<float> noise = white_noise(8 * config.rate_hz, 0.1f, 17);
    JackLoopbackClient client({server.name(), "ss_loopback", 10 * config.rate_hz});

    auto jalv = start_piped_process({"/usr/bin/env", "JACK_DEFAULT_SERVER=" + server.name(),
                                     "LV2_PATH=" + kEnhancerBundle.parent_path().string(),
                                     STATESTREAM_JALV, "-n", "ss_enhancer", "-x", kMonoUri});
    const auto inputs = wait_for_ports(client, "^ss_enhancer:in$");
    const auto outputs = wait_for_ports(client, "^ss_enhancer:out$");
    if (inputs.empty() || outputs.empty()) {
        jalv.close_input();
        const auto failed = finish_process(jalv.started, 5000);
        FAIL("jalv's ports did not appear; jalv said:\n" << failed.out << failed.err);
    }
    client.connect(client.play_port_name(), inputs.front());
    client.connect(outputs.front(), client.record_port_name());
    client.play(noise);
    // jalv's console prints the output controls on "monitors"; end of input ends it.
    for (int poll = 0; poll < 8; ++poll) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        jalv.send("monitors\n");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    jalv.close_input();
    const auto result = finish_process(jalv.started, 10000);
    INFO("jalv exit " << result.exit_code << "\nstdout:\n" << result.out << "\nstderr:\n" << result.err);
    REQUIRE(result.exit_code == 0);

    const auto controls = printed_controls(result.out);
    REQUIRE(controls.count("cpu_load") == 1);
    REQUIRE(controls.count("latency") == 1);
    CHECK(controls.at("latency").back() == static_cast<double>(expected_latency));
    CHECK(controls.at("sanitised").back() == 0.0);
    const auto& loads = controls.at("cpu_load");
    const auto& peaks = controls.at("cpu_load_peak");
    double mean_load = 0.0;
    for (double load : loads) mean_load += load / static_cast<double>(loads.size());
    const double period_us = 1e6 * config.period_frames / config.rate_hz;
    std::printf("jalv on JACK (dummy driver, %u frames at %u Hz = %.0f us per period): plugin CPU per "
                "period %.0f us (%.1f %%) on average over %zu samples of its meter, peak %.1f %%; "
                "latency %zu frames; %llu xruns seen by our client (the VM's, not the plugin's)\n",
                config.period_frames, config.rate_hz, period_us, mean_load * period_us / 100.0, mean_load,
                loads.size(), *std::max_element(peaks.begin(), peaks.end()), expected_latency,
                static_cast<unsigned long long>(client.xruns()));
    CHECK(*std::max_element(loads.begin(), loads.end()) > 0.0);

    // Processed audio: the noise came back through the plugin, turned down by the model.
    const auto recorded = client.recorded();
    REQUIRE(recorded.size() > 4 * config.rate_hz);
    const auto settled = recorded.subspan(1 * config.rate_hz + expected_latency, 2 * config.rate_hz);
    for (float x : settled) REQUIRE(std::isfinite(x));
    const double in_rms = rms(noise);
    const double out_rms = rms(settled);
    INFO("input RMS " << in_rms << ", through jalv " << out_rms);
    CHECK(out_rms > 0.0);
    CHECK(out_rms < 0.5 * in_rms);
}

TEST_CASE("cmake --install puts a bundle that loads where LV2 hosts look", "[plugins][lv2][tools]") {
    const auto prefix = scratch_dir("install");
    const auto installed = run_process({STATESTREAM_CMAKE, "--install", STATESTREAM_BINARY_DIR, "--prefix",
                                        prefix.string()});
    INFO(installed.out << installed.err);
    REQUIRE(installed.exit_code == 0);
    // <prefix>/lib/lv2 unless the tree was configured with another STATESTREAM_LV2_INSTALL_DIR.
    const auto lv2_dir = prefix / STATESTREAM_LV2_INSTALL_DIR;
    const auto bundle = lv2_dir / "statestream-enhancer.lv2";
    for (const char* file : {"manifest.ttl", "enhancer.ttl", "enhancer.safetensors", "statestream_enhancer.so"}) {
        CHECK(std::filesystem::exists(bundle / file));
    }
    Lv2TestHost host(kStereoUri, 96000, bundle);
    CHECK(host.instantiated());
    const auto listed = run_process({"/usr/bin/env", "LV2_PATH=" + lv2_dir.string(), STATESTREAM_LV2LS});
    CHECK_THAT(listed.out, Catch::Matchers::Contains("urn:statestream:enhancer-stereo"));
    std::filesystem::remove_all(prefix);
}
