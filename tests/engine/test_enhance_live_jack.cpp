// `statestream enhance --input DEVICE --output DEVICE` on a real JACK server (dummy driver):
// noise played into its capture port comes back from its playback port attenuated by the
// shipped model, and the run ends on its time limit with its statistics as JSON. Release tree
// only (label host).

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/jack_loopback_client.hpp"
#include "tests/support/jack_server.hpp"
#include "tests/support/run_process.hpp"

using statestream::test::JackLoopbackClient;
using statestream::test::JackServer;
using statestream::test::ScopedDefaultJackServer;

namespace {

constexpr std::uint32_t kRateHz = 48000;

// Stationary white noise at -20 dBFS RMS: the kind of input the enhancer exists to remove.
std::vector<float> white_noise(std::size_t frames) {
    std::mt19937 generator(11);
    std::normal_distribution<float> normal(0.0f, 0.1f);
    std::vector<float> samples(frames);
    for (auto& sample : samples) sample = normal(generator);
    return samples;
}

double rms(std::span<const float> samples) {
    double sum = 0.0;
    for (float x : samples) sum += static_cast<double>(x) * x;
    return samples.empty() ? 0.0 : std::sqrt(sum / static_cast<double>(samples.size()));
}

// Waits until PortAudio has registered statestream's ports on the server.
std::vector<std::string> wait_for_ports(const JackLoopbackClient& client, const std::string& pattern) {
    for (int attempt = 0; attempt < 100; ++attempt) {
        auto ports = client.ports(pattern);
        if (!ports.empty()) return ports;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return {};
}

}  // namespace

TEST_CASE("statestream enhance live on JACK: noise played into it comes back attenuated, and "
          "the run ends on its time limit with statistics", "[engine][jack][enhance]") {
    const JackServer server;
    const ScopedDefaultJackServer default_server(server.name());
    const auto noise = white_noise(8 * kRateHz);
    JackLoopbackClient client({server.name(), "ss_loopback", 10 * kRateHz});
    client.play(noise);

    auto run = statestream::test::start_process({STATESTREAM_EXE, "enhance", "--input", "system",
                                                 "--output", "system", "--seconds", "4", "--json"});
    const auto inputs = wait_for_ports(client, "^statestream[^:]*:in_[0-9]+$");
    const auto outputs = wait_for_ports(client, "^statestream[^:]*:out_[0-9]+$");
    REQUIRE(inputs.size() == 1);
    REQUIRE(outputs.size() == 1);
    client.connect(client.play_port_name(), inputs.front());
    client.connect(outputs.front(), client.record_port_name());

    const auto result = statestream::test::finish_process(run, 20000);
    INFO("exit " << result.exit_code << "\nstdout:\n" << result.out << "\nstderr:\n" << result.err);
    REQUIRE(result.exit_code == 0);
    const auto stats = nlohmann::json::parse(result.out);
    CHECK(stats["end"] == "time_limit");
    const auto& worker = stats["worker"];
    const std::uint64_t processed = worker["processed"];
    const std::uint64_t passed_through = worker["passed_through"];
    CHECK(processed > 300);  // 4 s of 10 ms blocks, less the start-up
    // Late blocks pass through unprocessed (the miss policy); on this VM a few may.
    CHECK(passed_through * 10 < processed);

    // What came back while the noise played: skip the first second (priming and the model
    // settling), compare levels. The enhancer takes white noise down by well over 6 dB.
    const auto recorded = client.recorded();
    REQUIRE(recorded.size() > 3 * kRateHz);
    const auto settled = recorded.subspan(kRateHz, 2 * kRateHz);
    const double in_rms = rms(noise);
    const double out_rms = rms(settled);
    INFO("input RMS " << in_rms << ", enhanced RMS " << out_rms << " ("
                      << 20.0 * std::log10(out_rms / in_rms) << " dB)");
    std::printf("live enhance: %llu blocks processed, %llu passed through; white noise %.1f dB\n",
                static_cast<unsigned long long>(processed),
                static_cast<unsigned long long>(passed_through), 20.0 * std::log10(out_rms / in_rms));
    CHECK(out_rms > 0.0);
    CHECK(out_rms < 0.5 * in_rms);
}
