// `statestream transcribe --input DEVICE` on a real JACK server (dummy driver), fed by the test's
// own JACK client: partial and final text come out as JSON lines while it listens, and the run
// ends on its time limit with the last segment closed and the statistics printed. The model is
// the golden fixture's small random transcriber (its words are nonsense): this proves the live
// path, not recognition. Release tree only (label host).

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <sstream>
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

// Bursts of a gliding harmonic tone (0.6 s) between silences (0.4 s): something for the
// front-end and the model, with pauses.
std::vector<float> bursts(std::size_t seconds) {
    std::vector<float> samples(seconds * kRateHz, 0.0f);
    double phase = 0.0;
    for (std::size_t i = 0; i < samples.size(); ++i) {
        const double t = static_cast<double>(i % kRateHz) / kRateHz;
        if (t > 0.6) continue;
        phase += 2.0 * M_PI * (120.0 + 100.0 * t) / kRateHz;
        double voiced = 0.0;
        for (int k = 1; k <= 12; ++k) voiced += std::sin(k * phase) / k;
        samples[i] = static_cast<float>(0.2 * std::sin(M_PI * t / 0.6) * voiced);
    }
    return samples;
}

}  // namespace

TEST_CASE("statestream transcribe live on JACK: partial and final JSON lines, then statistics",
          "[engine][jack][transcribe]") {
    const JackServer server;
    const ScopedDefaultJackServer default_server(server.name());
    JackLoopbackClient client({server.name(), "ss_loopback", 2 * kRateHz});
    client.play(bursts(8));

    const std::string model =
        std::string(STATESTREAM_DATA_DIR) + "/fixtures/transcriber_fixture.safetensors";
    auto run = statestream::test::start_process({STATESTREAM_EXE, "transcribe", "--input", "system",
                                                 "--model", model, "--seconds", "4"});
    std::vector<std::string> inputs;
    for (int attempt = 0; attempt < 100 && inputs.empty(); ++attempt) {
        inputs = client.ports("^statestream[^:]*:in_[0-9]+$");
        if (inputs.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(inputs.size() == 1);
    client.connect(client.play_port_name(), inputs.front());

    const auto result = statestream::test::finish_process(run, 20000);
    INFO("exit " << result.exit_code << "\nstdout:\n" << result.out << "\nstderr:\n" << result.err);
    REQUIRE(result.exit_code == 0);
    std::size_t partials = 0;
    std::size_t finals = 0;
    std::istringstream lines(result.out);
    for (std::string line; std::getline(lines, line);) {
        const auto doc = nlohmann::json::parse(line);  // every line is one JSON object
        if (doc["type"] == "partial") {
            ++partials;
            CHECK(!doc["text"].get<std::string>().empty());
        } else {
            REQUIRE(doc["type"] == "final");
            ++finals;
            CHECK(doc["end"].get<double>() >= doc["start"].get<double>());
            CHECK(!doc["words"].empty());
        }
    }
    std::printf("live transcribe: %zu partial and %zu final lines\n", partials, finals);
    CHECK(partials > 0);
    CHECK(finals > 0);  // the segment open at the time limit is closed on the way out
    CHECK(result.err.find("ended: time_limit") != std::string::npos);
    CHECK(result.err.find("steps: steps ") != std::string::npos);
}
