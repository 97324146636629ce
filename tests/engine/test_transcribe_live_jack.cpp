// `statestream transcribe --input DEVICE` on a real JACK server (dummy driver), fed by the test's
// own JACK client: partial and final text come out as JSON lines while it listens, and the run
// ends on its time limit with the last segment closed and the statistics printed. The model is
// the golden fixture's small random transcriber (its words are nonsense): this proves the live
// path, not recognition. Release tree only (label host).

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsp/stream_resampler.hpp"
#include "engine/io/audio_file.hpp"
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

// The shipped speech sample (flite rms, a held-out voice, reading held-out sentences) at the
// JACK server's rate, followed by silence so the last segment's endpoint falls inside the run.
std::vector<float> shipped_speech_at_server_rate(double trailing_silence_s) {
    statestream::engine::AudioFileReader reader(std::string(STATESTREAM_DATA_DIR) +
                                                "/audio/speech_16k.wav");
    REQUIRE(reader.format().rate_hz == 16000);
    statestream::dsp::StreamResampler resampler(
        {16000, kRateHz, statestream::dsp::ResamplerQuality::kBest, 1024});
    std::vector<float> block(1024);
    std::vector<float> out(resampler.max_output_samples(block.size()));
    std::vector<float> samples;
    for (bool more = true; more;) {
        const std::size_t got = reader.read_mono(block);
        more = got == block.size();
        // Zeros after the end push the resampler's delay out.
        std::fill(block.begin() + static_cast<std::ptrdiff_t>(got), block.end(), 0.0f);
        const std::size_t made = resampler.process(block, out);
        samples.insert(samples.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(made));
    }
    samples.resize(samples.size() + static_cast<std::size_t>(trailing_silence_s * kRateHz), 0.0f);
    return samples;
}

// Waits (up to 5 s) for the statestream process's one capture port, then feeds it the
// client's playback.
void connect_to_statestream_input(JackLoopbackClient& client) {
    std::vector<std::string> inputs;
    for (int attempt = 0; attempt < 100 && inputs.empty(); ++attempt) {
        inputs = client.ports("^statestream[^:]*:in_[0-9]+$");
        if (inputs.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(inputs.size() == 1);
    client.connect(client.play_port_name(), inputs.front());
}

std::vector<std::string> words_of(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> words;
    for (std::string word; in >> word;) words.push_back(word);
    return words;
}

// Word error rate: Levenshtein distance over words / reference words.
double word_error_rate(const std::string& reference, const std::string& hypothesis) {
    const auto ref = words_of(reference);
    const auto hyp = words_of(hypothesis);
    std::vector<std::size_t> row(hyp.size() + 1);
    for (std::size_t j = 0; j <= hyp.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= ref.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= hyp.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                               diagonal + (ref[i - 1] == hyp[j - 1] ? 0 : 1)});
            diagonal = up;
        }
    }
    return static_cast<double>(row[hyp.size()]) / static_cast<double>(std::max<std::size_t>(1, ref.size()));
}

std::string finals_text(const std::string& jsonl) {
    std::string text;
    std::istringstream lines(jsonl);
    for (std::string line; std::getline(lines, line);) {
        const auto doc = nlohmann::json::parse(line);
        if (doc.value("type", "") != "final" && !doc.value("final", false)) continue;
        if (!text.empty()) text += ' ';
        text += doc["text"].get<std::string>();
    }
    return text;
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
    connect_to_statestream_input(client);

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

// Known speech through the real chain: the engine's test client plays the shipped sample into a
// JACK dummy server at 48 kHz, `statestream transcribe --input` listens with the shipped model
// and LM, and its final lines must say what the same file says offline: the live path (JACK,
// PortAudio, 48 -> 16 kHz resampling on the real-time worker, the sink's endpointing) loses no
// words. The file transcription is the yardstick, so the test follows the shipped model.
TEST_CASE("statestream transcribe live on JACK: a known recording gives the file's transcript",
          "[engine][jack][transcribe]") {
    nlohmann::json reference;
    std::ifstream(std::string(STATESTREAM_DATA_DIR) + "/audio/speech_16k.words.json") >> reference;
    const std::string reference_text = reference["text"].get<std::string>();
    const auto offline = statestream::test::run_process(
        {STATESTREAM_EXE, "transcribe", "--format", "jsonl",
         std::string(STATESTREAM_DATA_DIR) + "/audio/speech_16k.wav"});
    REQUIRE(offline.exit_code == 0);
    const double offline_wer = word_error_rate(reference_text, finals_text(offline.out));

    const JackServer server;
    const ScopedDefaultJackServer default_server(server.name());
    const auto speech = shipped_speech_at_server_rate(2.0);
    JackLoopbackClient client({server.name(), "ss_loopback", 2 * kRateHz});
    const double seconds = static_cast<double>(speech.size()) / kRateHz + 1.0;
    auto run = statestream::test::start_process({STATESTREAM_EXE, "transcribe", "--input", "system",
                                                 "--seconds", std::to_string(seconds)});
    connect_to_statestream_input(client);
    client.play(speech);

    const auto result = statestream::test::finish_process(run, 60000);
    INFO("exit " << result.exit_code << "\nstdout:\n" << result.out << "\nstderr:\n" << result.err);
    REQUIRE(result.exit_code == 0);
    const std::string live_text = finals_text(result.out);
    const double live_wer = word_error_rate(reference_text, live_text);
    std::printf("reference: %s\nfile:      %s\nlive:      %s\nWER file %.3f, live %.3f\n",
                reference_text.c_str(), finals_text(offline.out).c_str(), live_text.c_str(),
                offline_wer, live_wer);
    CAPTURE(reference_text, live_text, offline_wer, live_wer);
    // Segmentation at pauses and a 48 kHz round trip may change a word or two of 24.
    CHECK(!live_text.empty());
    CHECK(live_wer <= offline_wer + 0.09);
}
