// The JACK test harness itself (tests/support/jack_server, jack_loopback_client): a real jackd
// with the dummy driver, our own client playing a known signal and recording what comes back,
// and PortAudio finding that server. Engine tests build on these, so this proves them first.
// Release tree only (label host): audio runs in real time through a separate jackd process,
// and the engine tests built on this measure timing that the sanitizers' slowdown would distort.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <ostream>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <portaudio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/support/jack_loopback_client.hpp"
#include "tests/support/jack_server.hpp"
#include "tests/support/seeded_noise.hpp"

using statestream::test::JackLoopbackClient;
using statestream::test::JackLoopbackConfig;
using statestream::test::JackServer;
using statestream::test::JackServerConfig;
using statestream::test::ScopedDefaultJackServer;

namespace {

constexpr std::uint32_t kRateHz = 48000;
constexpr std::uint32_t kPeriodFrames = 1024;      // 21.3 ms: several times this VM's stalls
constexpr std::size_t kSignalFrames = 2 * kRateHz + 17;  // 2 s, and not a period multiple
constexpr std::size_t kRecordFrames = 10 * kRateHz;      // room for a late start
constexpr std::chrono::milliseconds kWaitTimeout{15000};

JackLoopbackConfig loopback_config(const JackServer& server, const std::string& client_name) {
    return {server.name(), client_name, kRecordFrames};
}

enum class ArrivalProblem { kNone, kPlayNotTaken, kRecordingTooShort, kTimedOut, kChildFailed };

const char* describe(ArrivalProblem problem) {
    switch (problem) {
        case ArrivalProblem::kNone: return "none";
        case ArrivalProblem::kPlayNotTaken: return "the process callback never took the playback";
        case ArrivalProblem::kRecordingTooShort: return "the recording is too short for the signal";
        case ArrivalProblem::kTimedOut: return "the recording did not reach the signal's end";
        case ArrivalProblem::kChildFailed: return "the child process threw or died";
    }
    return "?";
}

// Trivially copyable: the side-by-side test sends it through a pipe from a child process.
struct Arrival {
    ArrivalProblem problem = ArrivalProblem::kNone;
    std::int64_t delay_frames = -1;       // first nonzero recorded frame - play start; -1: none
    std::uint64_t mismatched_frames = 0;  // recorded != played, from the arrival on
    std::uint64_t unexplained_frames = 0;  // of those, not within two periods of a noted xrun
    std::uint64_t first_unexplained = 0;  // signal index of the first unexplained mismatch
    std::uint64_t nonzero_after_end = 0;  // samples in the period after the signal (want 0)
    std::uint64_t xruns = 0;
};

std::ostream& operator<<(std::ostream& out, const Arrival& arrival) {
    return out << "problem: " << describe(arrival.problem) << "; loopback delay "
               << arrival.delay_frames << " frames; " << arrival.mismatched_frames
               << " mismatched frames, " << arrival.unexplained_frames << " not near any of "
               << arrival.xruns << " xruns (first at signal frame " << arrival.first_unexplained
               << "); " << arrival.nonzero_after_end << " nonzero samples after the end";
}

// Waits until the signal and two periods after it are recorded, then finds where it came back
// and compares it sample for sample. Samples near an xrun the server reported may differ.
// No Catch2 assertions here: the side-by-side test calls it in a forked child.
Arrival find_signal(const JackLoopbackClient& client, std::span<const float> signal) {
    Arrival arrival;
    const std::uint64_t period = client.period_frames();
    std::optional<std::uint64_t> start;
    const auto deadline = std::chrono::steady_clock::now() + kWaitTimeout;
    while (!(start = client.play_start_frame()) && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!start) {
        arrival.problem = ArrivalProblem::kPlayNotTaken;
        return arrival;
    }
    const std::size_t needed = *start + signal.size() + 2 * period;
    if (needed > kRecordFrames) {
        arrival.problem = ArrivalProblem::kRecordingTooShort;
        return arrival;
    }
    if (!client.wait_for_recorded_frames(needed, kWaitTimeout)) {
        arrival.problem = ArrivalProblem::kTimedOut;
        return arrival;
    }

    const auto recorded = client.recorded();
    arrival.xruns = client.xruns();
    std::size_t at = *start;
    while (at < recorded.size() && recorded[at] == 0.0f) ++at;
    if (at == recorded.size()) return arrival;
    arrival.delay_frames = static_cast<std::int64_t>(at - *start);

    const auto xrun_frames = client.xrun_frames();
    auto near_xrun = [&](std::uint64_t frame) {
        for (const std::uint64_t xrun : xrun_frames) {
            if (frame + 2 * period >= xrun && frame <= xrun + 2 * period) return true;
        }
        return false;
    };
    for (std::size_t i = 0; i < signal.size() && at + i < recorded.size(); ++i) {
        if (recorded[at + i] == signal[i]) continue;  // bit-exact: JACK only copies floats
        ++arrival.mismatched_frames;
        if (!near_xrun(at + i)) {
            if (arrival.unexplained_frames == 0) arrival.first_unexplained = i;
            ++arrival.unexplained_frames;
        }
    }
    for (std::size_t i = at + signal.size(); i < at + signal.size() + period && i < recorded.size();
         ++i) {
        if (recorded[i] != 0.0f) ++arrival.nonzero_after_end;
    }
    return arrival;
}

// Plays `signal` around a "play" -> "record" loop on `server_name` and finds it.
Arrival loop_back(const std::string& server_name, const std::string& client_name,
                  const std::vector<float>& signal) {
    JackLoopbackClient client({server_name, client_name, kRecordFrames});
    client.connect(client.play_port_name(), client.record_port_name());
    client.play(signal);
    return find_signal(client, signal);
}

// libjack (jack2) holds one server's shared memory per process: while a client is open, every
// further client of the process uses the first server's graph, whatever server it names. Two
// servers side by side are therefore two processes, as with two ctest runs: this runs
// loop_back() in a forked child and returns its result. Call it while this process has no
// JACK client open, so the child starts with no libjack threads or state.
class LoopBackInChild {
public:
    LoopBackInChild(const std::string& server_name, const std::string& client_name,
                    const std::vector<float>& signal) {
        int fds[2];
        if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error("fork failed");
        if (pid_ == 0) {
            ::close(fds[0]);
            Arrival arrival;
            arrival.problem = ArrivalProblem::kChildFailed;
            try {
                arrival = loop_back(server_name, client_name, signal);
            } catch (...) {
            }
            const bool sent = ::write(fds[1], &arrival, sizeof arrival) == sizeof arrival;
            ::_exit(sent ? 0 : 1);  // no Catch2 teardown, no destructors of the parent's objects
        }
        ::close(fds[1]);
        result_fd_ = fds[0];
    }
    ~LoopBackInChild() {
        if (result_fd_ >= 0) ::close(result_fd_);
        if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
    }
    LoopBackInChild(const LoopBackInChild&) = delete;
    LoopBackInChild& operator=(const LoopBackInChild&) = delete;

    // Blocks until the child has finished.
    [[nodiscard]] Arrival result() {
        Arrival arrival;
        arrival.problem = ArrivalProblem::kChildFailed;
        Arrival received;
        if (::read(result_fd_, &received, sizeof received) == sizeof received) arrival = received;
        return arrival;
    }

private:
    pid_t pid_ = -1;
    int result_fd_ = -1;
};

// Pa_Initialize / Pa_Terminate on every path out of a test.
class PortAudioSession {
public:
    PortAudioSession() : status_(Pa_Initialize()) {}
    ~PortAudioSession() {
        if (status_ == paNoError) Pa_Terminate();
    }
    PortAudioSession(const PortAudioSession&) = delete;
    PortAudioSession& operator=(const PortAudioSession&) = delete;
    [[nodiscard]] PaError status() const noexcept { return status_; }

private:
    PaError status_;
};

JackServerConfig harness_server_config() {
    JackServerConfig config;
    config.rate_hz = kRateHz;
    config.period_frames = kPeriodFrames;
    return config;
}

}  // namespace

TEST_CASE("JACK harness: a burst played into 'play' comes back on 'record' one period late, "
          "bit-exact", "[engine][jack]") {
    const JackServer server(harness_server_config());
    JackLoopbackClient client(loopback_config(server, "ss_loopback"));
    REQUIRE(client.sample_rate_hz() == kRateHz);
    REQUIRE(client.period_frames() == kPeriodFrames);

    const auto ports = client.ports();
    INFO("server " << server.name() << " has " << ports.size() << " ports");
    CHECK(std::count(ports.begin(), ports.end(), "system:capture_1") == 1);
    CHECK(std::count(ports.begin(), ports.end(), "system:playback_1") == 1);
    CHECK(std::count(ports.begin(), ports.end(), client.play_port_name()) == 1);
    CHECK(std::count(ports.begin(), ports.end(), client.record_port_name()) == 1);

    client.connect(client.play_port_name(), client.record_port_name());
    const auto signal = statestream::test::seeded_nonzero_noise(kSignalFrames, /*seed=*/20240611);
    client.play(signal);
    const Arrival arrival = find_signal(client, signal);

    INFO(arrival);
    REQUIRE(arrival.problem == ArrivalProblem::kNone);
    // The callback records before it plays, so a direct connection gives the previous cycle.
    CHECK(arrival.delay_frames == kPeriodFrames);
    CHECK(arrival.unexplained_frames == 0);
    CHECK(arrival.nonzero_after_end == 0);  // silence after the end
    CHECK(client.frames_dropped() == 0);
}

TEST_CASE("JACK harness: a loop with nothing connected records the dummy driver's silence",
          "[engine][jack]") {
    // The control for the test above: without the connection, nothing comes back.
    const JackServer server(harness_server_config());
    JackLoopbackClient client(loopback_config(server, "ss_loopback"));
    client.connect("system:capture_1", client.record_port_name());
    const auto signal = statestream::test::seeded_nonzero_noise(kSignalFrames, /*seed=*/20240611);
    client.play(signal);
    const Arrival arrival = find_signal(client, signal);
    INFO(arrival);
    REQUIRE(arrival.problem == ArrivalProblem::kNone);
    CHECK(arrival.delay_frames == -1);
}

TEST_CASE("JACK harness: two servers with different names run side by side without "
          "interference", "[engine][jack]") {
    const JackServer server_a(harness_server_config());
    const JackServer server_b(harness_server_config());
    REQUIRE(server_a.name() != server_b.name());
    const auto signal_a = statestream::test::seeded_nonzero_noise(kSignalFrames, /*seed=*/1);
    const auto signal_b = statestream::test::seeded_nonzero_noise(kSignalFrames, /*seed=*/2);
    REQUIRE(signal_a != signal_b);

    // Both loops play at once: b in a child process (see LoopBackInChild), a here.
    LoopBackInChild child_b(server_b.name(), "ss_loop_b", signal_b);
    JackLoopbackClient client_a(loopback_config(server_a, "ss_loop_a"));
    // Server a's graph holds only its own client.
    const auto ports_a = client_a.ports();
    CHECK(std::count(ports_a.begin(), ports_a.end(), "ss_loop_b:play") == 0);
    client_a.connect(client_a.play_port_name(), client_a.record_port_name());
    client_a.play(signal_a);
    const Arrival arrival_a = find_signal(client_a, signal_a);
    const Arrival arrival_b = child_b.result();

    INFO("server a " << server_a.name() << ": " << arrival_a);
    INFO("server b " << server_b.name() << ": " << arrival_b);
    REQUIRE(arrival_a.problem == ArrivalProblem::kNone);
    REQUIRE(arrival_b.problem == ArrivalProblem::kNone);
    CHECK(arrival_a.delay_frames == kPeriodFrames);
    CHECK(arrival_b.delay_frames == kPeriodFrames);
    CHECK(arrival_a.unexplained_frames == 0);  // each got its own signal back, not the other's
    CHECK(arrival_b.unexplained_frames == 0);
}

TEST_CASE("JACK harness: a client notices within a second when its server is killed",
          "[engine][jack]") {
    JackServer server(harness_server_config());
    JackLoopbackClient client(loopback_config(server, "ss_loopback"));
    REQUIRE(client.wait_for_recorded_frames(4 * kPeriodFrames, kWaitTimeout));  // it runs
    REQUIRE_FALSE(client.server_gone());

    const auto killed_at = std::chrono::steady_clock::now();
    server.kill_now();
    CHECK_FALSE(server.running());
    REQUIRE(client.wait_for_server_gone(std::chrono::milliseconds(1000)));
    const auto noticed_after = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - killed_at);
    INFO("shutdown callback after " << noticed_after.count() << " ms");

    // And the process callback stops: no more frames after the server is gone.
    const std::uint64_t frames = client.frames_processed();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // ~5 periods
    CHECK(client.frames_processed() == frames);
}

TEST_CASE("JACK harness: servers killed with SIGKILL do not use up JACK's registry",
          "[engine][jack]") {
    // jackd's registry has 8 server slots per user, and a SIGKILLed server keeps its slot;
    // without ~JackServer freeing it, the 9th kill_now() test on a machine would fail to start
    // any server at all, for every test after it.
    constexpr int kMoreThanRegistrySlots = 9;
    for (int i = 0; i < kMoreThanRegistrySlots; ++i) {
        INFO("server " << i + 1 << " of " << kMoreThanRegistrySlots);
        JackServer server(harness_server_config());  // throws "Too many servers" when full
        server.kill_now();
        CHECK_FALSE(server.running());
    }
}

TEST_CASE("JACK harness: PortAudio's JACK host API finds the server JACK_DEFAULT_SERVER names",
          "[engine][jack]") {
    const JackServer server(harness_server_config());
    const ScopedDefaultJackServer default_server(server.name());
    const PortAudioSession portaudio;
    REQUIRE(portaudio.status() == paNoError);

    const PaHostApiIndex jack_api = Pa_HostApiTypeIdToHostApiIndex(paJACK);
    INFO("Pa_HostApiTypeIdToHostApiIndex(paJACK) = " << jack_api);
    REQUIRE(jack_api >= 0);
    const PaHostApiInfo* api = Pa_GetHostApiInfo(jack_api);
    REQUIRE(api != nullptr);
    REQUIRE(api->deviceCount > 0);

    bool found_duplex = false;
    for (int i = 0; i < api->deviceCount; ++i) {
        const PaDeviceIndex index = Pa_HostApiDeviceIndexToDeviceIndex(jack_api, i);
        const PaDeviceInfo* device = Pa_GetDeviceInfo(index);
        REQUIRE(device != nullptr);
        INFO("JACK device '" << device->name << "': " << device->maxInputChannels << " in, "
                             << device->maxOutputChannels << " out, "
                             << device->defaultSampleRate << " Hz");
        if (device->maxInputChannels > 0 && device->maxOutputChannels > 0) {
            found_duplex = true;
            CHECK(device->defaultSampleRate == Approx(kRateHz));  // the server's rate
        }
    }
    CHECK(found_duplex);  // the dummy driver's "system" client: 2 capture, 2 playback ports
}

TEST_CASE("JACK harness: PortAudio has no JACK host API when JACK_DEFAULT_SERVER names no "
          "server", "[engine][jack]") {
    // The control for the test above: the JACK devices come from the server we name.
    const ScopedDefaultJackServer default_server("ss_no_such_server");
    const PortAudioSession portaudio;
    REQUIRE(portaudio.status() == paNoError);
    CHECK(Pa_HostApiTypeIdToHostApiIndex(paJACK) < 0);
}
