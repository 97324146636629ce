// PortAudio on a real JACK server (dummy driver): the engine's live audio path end to end.
//   - round trip: our JACK client plays a known signal into statestream's capture port; the
//     worker passes it through; what statestream plays comes back to our client. Every block
//     arrives in order or is counted as lost, and the counters add up. Zero xruns is not
//     assumed (this VM stalls threads for 1-7 ms).
//   - the real-time proof: allocation and lock hooks armed in the audio callback and on the
//     worker thread while a real pipeline (resample, log-mel, model) runs from JACK.
//   - a vanished device: the JACK server is killed under `statestream run`; it exits 1 with the
//     output written so far kept and the statistics printed.
//   - `statestream devices` lists the JACK server's device with its rate and latencies.
// Release tree only (label host): real time, and the hooks replace the allocator.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <sndfile.h>

#include "engine/io/audio_device_stream.hpp"
#include "engine/pipeline.hpp"
#include "engine/realtime_worker.hpp"
#include "engine/stages/gain_stage.hpp"
#include "engine/stages/log_mel_stage.hpp"
#include "engine/stages/model_stage.hpp"
#include "engine/stages/resample_stage.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"
#include "tests/support/allocation_hooks.hpp"
#include "tests/support/arming_stage.hpp"
#include "tests/support/jack_loopback_client.hpp"
#include "tests/support/jack_server.hpp"
#include "tests/support/seeded_noise.hpp"
#include "tests/support/run_process.hpp"

using namespace statestream::engine;
using statestream::test::JackLoopbackClient;
using statestream::test::JackServer;
using statestream::test::JackServerConfig;
using statestream::test::ScopedDefaultJackServer;

namespace {

constexpr std::uint32_t kRateHz = 48000;
constexpr std::size_t kBlock = 480;  // 10 ms: not a divisor of the period, on purpose

// The harness's default server (48 kHz, 1024-frame periods) is what these tests assume.
static_assert(JackServerConfig{}.rate_hz == kRateHz);

// The one port PortAudio registered for statestream whose name ends in `suffix` (a regular
// expression; PortAudio numbers them from 0 or 1 depending on its version).
std::string statestream_port(const JackLoopbackClient& client, const std::string& suffix) {
    const auto ports = client.ports("^statestream[^:]*:" + suffix + "$");
    INFO("ports matching statestream*:" << suffix << ": " << ports.size());
    REQUIRE(ports.size() == 1);
    return ports.front();
}

struct Parsed {
    std::uint64_t blocks_seen = 0;
    std::uint64_t blocks_skipped = 0;  // block numbers jumped over: lost somewhere, in order
    std::uint64_t out_of_order = 0;    // a block at or before the previous one (want 0)
    std::uint64_t unknown_runs = 0;    // nonzero audio that is not a block of the signal (want 0)
    std::uint64_t cut_short_at_end = 0;  // the last block, stopped while it played (0 or 1)
    std::uint64_t silent_frames_between = 0;
    std::int64_t first_block = -1;
};

// Walks the recording: runs of silence (priming, underflow) and whole blocks of the signal as
// the worker passed them, each starting at capture offset `first_offset` + k * kBlock.
Parsed parse_recording(std::span<const float> recorded, const std::vector<float>& signal) {
    // Keyed by two samples: one float of this noise repeats thousands of times in 6 s, a pair
    // practically never.
    const auto key_at = [](const float* at) {
        std::uint64_t bits;
        std::memcpy(&bits, at, sizeof bits);
        return bits;
    };
    std::unordered_map<std::uint64_t, std::size_t> position_of;
    for (std::size_t i = 0; i + kBlock <= signal.size(); ++i) position_of.emplace(key_at(&signal[i]), i);
    Parsed parsed;
    std::int64_t phase = -1;  // signal offset of block 0 (the capture started mid-signal)
    std::int64_t last_block = -1;
    std::size_t i = 0;
    std::uint64_t silent_run = 0;
    while (i < recorded.size()) {
        if (recorded[i] == 0.0f) {
            ++silent_run;
            ++i;
            continue;
        }
        if (last_block >= 0) parsed.silent_frames_between += silent_run;
        silent_run = 0;
        const auto found = i + 1 < recorded.size() ? position_of.find(key_at(&recorded[i]))
                                                   : position_of.end();
        if (found == position_of.end()) {
            ++parsed.unknown_runs;
            break;
        }
        std::size_t matching = 0;
        while (matching < kBlock && i + matching < recorded.size() &&
               recorded[i + matching] == signal[found->second + matching]) {
            ++matching;
        }
        if (matching < kBlock) {
            // The block playing when the stream stopped is cut short: silence after it to the end.
            const bool silent_after = std::all_of(recorded.begin() + static_cast<std::ptrdiff_t>(i + matching),
                                                  recorded.end(), [](float x) { return x == 0.0f; });
            if (silent_after) ++parsed.cut_short_at_end;
            else ++parsed.unknown_runs;
            break;
        }
        const auto offset = static_cast<std::int64_t>(found->second);
        if (phase < 0) phase = offset;
        if ((offset - phase) % static_cast<std::int64_t>(kBlock) != 0) {
            ++parsed.unknown_runs;
            break;
        }
        const std::int64_t block = (offset - phase) / static_cast<std::int64_t>(kBlock);
        if (parsed.first_block < 0) parsed.first_block = block;
        if (block <= last_block) ++parsed.out_of_order;
        else if (last_block >= 0) parsed.blocks_skipped += static_cast<std::uint64_t>(block - last_block - 1);
        last_block = block;
        ++parsed.blocks_seen;
        i += kBlock;
    }
    return parsed;
}

std::unique_ptr<Pipeline> pass_through_pipeline() {
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::make_unique<GainStage>(kRateHz, kBlock, 0.0));
    return std::make_unique<Pipeline>(std::move(stages));
}

}  // namespace

TEST_CASE("PortAudio on JACK: a signal through capture, the worker and playback comes back in "
          "order, every block seen or counted as lost", "[engine][jack][portaudio]") {
    const JackServer server;
    const ScopedDefaultJackServer default_server(server.name());
    const auto signal = statestream::test::seeded_nonzero_noise(6 * kRateHz, /*seed=*/7);
    JackLoopbackClient client({server.name(), "ss_loopback", 12 * kRateHz});
    client.play(signal);  // playing before statestream starts: every captured frame is signal

    auto pipeline = pass_through_pipeline();
    RealtimeWorker worker(*pipeline, {OverloadPolicy::kPassThrough, 4, 64});
    io::AudioStreamConfig config;
    config.capture_device = "system";
    config.playback_device = "system";
    config.sample_rate_hz = kRateHz;
    io::AudioDeviceStream stream(config, worker);
    client.connect(client.play_port_name(), statestream_port(client, "in_[0-9]+"));
    client.connect(statestream_port(client, "out_[0-9]+"), client.record_port_name());
    INFO("stream: " << stream.describe());

    worker.start();
    stream.start();
    std::this_thread::sleep_for(std::chrono::seconds(3));  // well inside the 6 s signal
    REQUIRE(stream.health(std::chrono::milliseconds(1500)) == io::AudioStreamHealth::kRunning);
    stream.stop();
    worker.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the recording's last cycle

    const auto audio = stream.counters();
    const auto counted = worker.counters();
    const Parsed parsed = parse_recording(client.recorded(), signal);
    INFO("callbacks " << audio.callbacks << ", captured " << audio.frames_captured << ", pushed "
                      << audio.blocks_pushed << ", refused " << audio.blocks_refused
                      << ", played blocks " << audio.blocks_played << ", priming "
                      << audio.priming_frames << ", underflow " << audio.underflow_frames
                      << ", host flags in/out " << audio.host_input_overflows << "/"
                      << audio.host_output_underflows << "; worker processed "
                      << counted.processed << ", passed through " << counted.passed_through
                      << ", output overruns " << counted.output_overruns << "; recording: "
                      << parsed.blocks_seen << " blocks seen from block " << parsed.first_block
                      << ", " << parsed.blocks_skipped << " skipped, " << parsed.out_of_order
                      << " out of order, " << parsed.unknown_runs << " unknown runs, "
                      << parsed.silent_frames_between << " silent frames between blocks; "
                      << client.xruns() << " xruns");
    REQUIRE(audio.callbacks > 100);  // ~140 in 3 s at 1024 frames per callback
    CHECK(parsed.unknown_runs == 0);
    CHECK(parsed.out_of_order == 0);
    CHECK(parsed.first_block == 0);  // the first captured block is the first one heard
    // Capture: every full block of captured frames was pushed or refused.
    CHECK(audio.blocks_pushed + audio.blocks_refused == audio.frames_captured / kBlock);
    // Worker: every pushed block was stepped or passed through (and then emitted or lost).
    CHECK(counted.processed + counted.passed_through == audio.blocks_pushed);
    // Playback: every emitted block was played (the last perhaps in part) or is still queued.
    const std::uint64_t emitted = counted.processed + counted.passed_through - counted.output_overruns;
    CHECK(audio.blocks_played <= emitted);
    CHECK(audio.frames_played - audio.priming_frames - audio.underflow_frames <= audio.blocks_played * kBlock);
    CHECK(audio.frames_played - audio.priming_frames - audio.underflow_frames > (audio.blocks_played - 1) * kBlock);
    // The recording: every played block is there (the last played in part is not parsed), and
    // blocks missing in between are exactly the ones counted as lost on the way.
    CHECK(parsed.blocks_seen + parsed.cut_short_at_end == audio.blocks_played);
    CHECK(parsed.blocks_skipped == audio.blocks_refused + counted.output_overruns);
    // Silence between blocks only where the callback found nothing to play.
    CHECK(parsed.silent_frames_between <= audio.underflow_frames);
}

TEST_CASE("PortAudio on JACK: the audio callback and the worker neither allocate nor lock "
          "while a real pipeline runs", "[engine][jack][portaudio][rt]") {
    const JackServer server;
    const ScopedDefaultJackServer default_server(server.name());
    JackLoopbackClient client({server.name(), "ss_loopback", kRateHz});
    client.play(statestream::test::seeded_nonzero_noise(4 * kRateHz, /*seed=*/11));

    const auto file = statestream::models::ModelFile::load(
        std::filesystem::path(STATESTREAM_DATA_DIR) / "models/tiny_mamba2.safetensors");
    const statestream::models::SsmModel model(file);
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::make_unique<statestream::test::ArmWorkerThread>(StageShape{1, kRateHz, kBlock}));
    stages.push_back(std::make_unique<ResampleStage>(kRateHz, 16000, kBlock));
    stages.push_back(std::make_unique<LogMelStage>(statestream::dsp::LogMelConfig{16000.0, 400, 160, 8}));
    stages.push_back(std::make_unique<ModelStage>(model, 100.0));
    Pipeline pipeline(std::move(stages));
    RealtimeWorker worker(pipeline, {OverloadPolicy::kDrop, 4, 64});

    io::CallbackObserver arm_callback;
    arm_callback.enter = [](void*) noexcept { statestream::test::arm_this_thread(true); };
    arm_callback.leave = [](void*) noexcept { statestream::test::arm_this_thread(false); };
    io::AudioStreamConfig config;
    config.capture_device = "system";
    config.sample_rate_hz = kRateHz;
    io::AudioDeviceStream stream(config, worker, arm_callback);
    client.connect(client.play_port_name(), statestream_port(client, "in_[0-9]+"));

    const auto allocations_before = statestream::test::armed_allocator_calls();
    const auto locks_before = statestream::test::armed_lock_calls();
    worker.start();
    stream.start();
    std::vector<float> features(pipeline.output().floats());
    std::uint64_t drained = 0;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (std::chrono::steady_clock::now() < end) {  // the consumer: this (unarmed) thread
        while (worker.pop_output(features)) ++drained;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    // Counted while both still run: the worker thread stays armed to its end, and a thread's
    // exit frees its own bookkeeping.
    const auto allocations = statestream::test::armed_allocator_calls() - allocations_before;
    const auto locks = statestream::test::armed_lock_calls() - locks_before;
    stream.stop();
    worker.stop();
    const auto audio = stream.counters();
    INFO("callbacks " << audio.callbacks << ", blocks pushed " << audio.blocks_pushed
                      << ", steps " << worker.counters().processed << ", drained " << drained);
    REQUIRE(audio.callbacks > 50);            // the armed callback ran
    REQUIRE(worker.counters().processed > 100);  // and so did the armed worker
    CHECK(allocations == 0);
    CHECK(locks == 0);
}

namespace {

std::string write_pipeline_description(const std::filesystem::path& dir) {
    const auto path = dir / "pass_through.json";
    std::ofstream(path) << R"({"schema": "statestream.pipeline/1", "name": "pass through",
 "input": {"rate_hz": 48000, "block": 480}, "stages": [{"type": "gain", "db": 0}],
 "realtime": {"on_overload": "pass_through"}})";
    return path.string();
}

std::int64_t frames_in_wav(const std::filesystem::path& path) {
    SF_INFO info{};
    SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
    if (file == nullptr) return -1;
    sf_close(file);
    return info.frames;
}

}  // namespace

TEST_CASE("statestream run: a JACK server killed mid-run ends it with exit 1, the recording so "
          "far kept and the statistics printed", "[engine][jack][portaudio]") {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("statestream-vanish-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto output = dir / "recording.wav";
    std::filesystem::remove(output);

    JackServer server;
    const ScopedDefaultJackServer default_server(server.name());
    auto run = statestream::test::start_process(
        {STATESTREAM_EXE, "run", write_pipeline_description(dir), "--input", "device:system",
         "--output", output.string()});
    // Let it record ~1.5 s: the partial file grows while it runs.
    std::this_thread::sleep_for(std::chrono::milliseconds(2000));
    server.kill_now();
    const auto result = statestream::test::finish_process(run, 15000);
    INFO("exit " << result.exit_code << "\nstderr:\n" << result.err);
    CHECK(result.exit_code == 1);
    CHECK(result.err.find("ended: device_lost") != std::string::npos);
    CHECK(result.err.find("statestream run: the audio device stopped") != std::string::npos);
    CHECK(result.err.find("steps: steps ") != std::string::npos);  // the statistics
    // The output so far is a finished, readable file (not left as .partial), ~1 s or more.
    REQUIRE(std::filesystem::exists(output));
    CHECK(!std::filesystem::exists(output.string() + ".partial"));
    CHECK(frames_in_wav(output) > static_cast<std::int64_t>(kRateHz) / 2);
    std::filesystem::remove_all(dir);
}

TEST_CASE("statestream devices lists the JACK server's device with its rate and latencies",
          "[engine][jack][portaudio]") {
    const JackServer server;
    const ScopedDefaultJackServer default_server(server.name());
    const auto result = statestream::test::run_process({STATESTREAM_EXE, "devices"});
    INFO("exit " << result.exit_code << "\nstdout:\n" << result.out << "\nstderr:\n" << result.err);
    REQUIRE(result.exit_code == 0);
    const std::regex jack_line(
        R"(\[\d+\] system \(JACK Audio Connection Kit\): 2 in, 2 out, 48000 Hz, low latency in \d+\.\d ms / out \d+\.\d ms)");
    CHECK(std::regex_search(result.out, jack_line));
    std::printf("%s", result.out.c_str());  // shown in the test log
}

TEST_CASE("statestream run: SIGUSR1 prints statistics so far, Ctrl-C stops a live run cleanly "
          "with exit 0 and the recording finished", "[engine][jack][portaudio]") {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("statestream-sigint-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto output = dir / "recording.flac";
    std::filesystem::remove(output);

    const JackServer server;
    const ScopedDefaultJackServer default_server(server.name());
    auto run = statestream::test::start_process(
        {STATESTREAM_EXE, "run", write_pipeline_description(dir), "--input", "device:system",
         "--output", output.string()});
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    ::kill(run.pid, SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    ::kill(run.pid, SIGINT);
    const auto result = statestream::test::finish_process(run, 15000);
    INFO("exit " << result.exit_code << "\nstderr:\n" << result.err);
    CHECK(result.exit_code == 0);
    CHECK(result.err.find(R"({"schema":"statestream.run/1","end":"running")") != std::string::npos);  // the SIGUSR1 snapshot
    CHECK(result.err.find("ended: stop_requested") != std::string::npos);
    CHECK(result.err.find("steps: steps ") != std::string::npos);
    REQUIRE(std::filesystem::exists(output));
    CHECK(frames_in_wav(output) > static_cast<std::int64_t>(kRateHz));  // ~2.5 s recorded
    std::filesystem::remove_all(dir);
}
