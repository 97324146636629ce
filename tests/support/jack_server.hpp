#pragma once
// A real JACK server for engine tests: `jackd --no-realtime -n NAME -d dummy` as a child process
// of the test, under a name no other test (or test tree) uses, so tests can run side by side.
// The dummy driver has no hardware: its capture ports deliver silence and its playback ports
// discard what they get; tests put a known signal into the graph with JackLoopbackClient.
//
// Clients in this process pick the server by name: JackLoopbackClient takes it directly, and
// PortAudio's JACK host API (which opens its client with the default server) reads the
// JACK_DEFAULT_SERVER environment variable that ScopedDefaultJackServer sets.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <sys/types.h>

namespace statestream::test {

struct JackServerConfig {
    std::uint32_t rate_hz = 48000;
    // 1024 frames = 21.3 ms at 48 kHz. This VM stalls threads for 1-7 ms at times; a period
    // well above that keeps xruns rare (they are counted, never assumed absent).
    std::uint32_t period_frames = 1024;
    // jackd accepts clients ~0.25 s after exec here; 10 s covers a loaded 2-core machine.
    std::chrono::milliseconds start_timeout{10000};
    // SIGTERM gets this long to shut the server down cleanly before SIGKILL.
    std::chrono::milliseconds stop_timeout{3000};
};

class JackServer {
public:
    // Thread: setup (the test's main thread). Starts jackd and returns once it accepts clients.
    // Throws std::runtime_error with jackd's own output when it exits or does not answer within
    // start_timeout. jackd gets SIGTERM if the thread that constructs this object exits first
    // (PR_SET_PDEATHSIG), so a test killed by its ctest timeout does not leave servers behind.
    explicit JackServer(const JackServerConfig& config = {});
    // Stops the server: SIGTERM, then SIGKILL after stop_timeout. After a SIGKILL (kill_now()
    // or a server that ignored SIGTERM) also frees the server's slot in JACK's registry, which
    // has only 8 per user; that starts jackd once more under the same name (~0.2 s).
    ~JackServer();
    JackServer(const JackServer&) = delete;
    JackServer& operator=(const JackServer&) = delete;

    // "ss_<pid>_<counter>_<random>": unique per object, process and run.
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    [[nodiscard]] const JackServerConfig& config() const noexcept { return config_; }
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    // False once the server was stopped or killed, or exited by itself.
    [[nodiscard]] bool running();

    // Thread: setup. SIGKILL now, as when a device vanishes: clients get no goodbye, only a
    // closed socket. Waits for the process and removes the files it left in JACK's tmpdir;
    // the destructor frees its registry slot (after the test's clients are closed).
    void kill_now();

    // What jackd printed so far (stdout and stderr), for failure messages.
    [[nodiscard]] std::string output() const;

private:
    void spawn();
    void wait_until_accepting_clients();
    // SIGTERM, then SIGKILL after `timeout`. True when the server exited by itself.
    bool terminate(std::chrono::milliseconds timeout) noexcept;
    void reclaim_registry_slot() noexcept;
    void remove_leftover_files() const noexcept;

    JackServerConfig config_;
    std::string name_;
    std::filesystem::path output_path_;  // jackd's stdout and stderr, deleted with the object
    pid_t pid_ = -1;                     // -1 once reaped
    std::optional<int> exit_status_;     // waitpid status, once reaped
    bool registry_slot_leaked_ = false;  // jackd died by SIGKILL: its slot stays taken
};

// Points JACK_DEFAULT_SERVER at `server_name` for its lifetime and restores the previous value
// after. Thread: setup, while no other thread reads the environment (setenv is not
// thread-safe); PortAudio reads it in Pa_Initialize.
class ScopedDefaultJackServer {
public:
    explicit ScopedDefaultJackServer(const std::string& server_name);
    ~ScopedDefaultJackServer();
    ScopedDefaultJackServer(const ScopedDefaultJackServer&) = delete;
    ScopedDefaultJackServer& operator=(const ScopedDefaultJackServer&) = delete;

private:
    std::optional<std::string> previous_;
};

}  // namespace statestream::test
