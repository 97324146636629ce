#pragma once
// Our own JACK client for engine tests: it plays a known signal into the graph on its output
// port "play" and records everything that arrives on its input port "record", so a test can
// route audio through the code under test (or straight back, "play" -> "record") and compare
// what came back with what went in, sample for sample.
//
// Frame numbers: the recording starts at the client's first process cycle, and recorded frame
// k is the k-th frame the client processed. play_start_frame() is given in the same numbers, so
// a signal that comes back in recorded frame k was delayed by k - play_start_frame() frames.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <jack/jack.h>

namespace statestream::test {

struct JackLoopbackConfig {
    std::string server_name;                // JackServer::name()
    std::string client_name = "ss_loopback";
    std::size_t record_capacity_frames = 0;  // allocated up front; frames past it are dropped
};

class JackLoopbackClient {
public:
    // Thread: setup. Opens the client on config.server_name (never starts a server), registers
    // "play" and "record", allocates the recording and activates. Throws std::runtime_error
    // naming the server and JACK's status bits when any step fails.
    explicit JackLoopbackClient(const JackLoopbackConfig& config);
    // Deactivates and closes the client; safe after the server died.
    ~JackLoopbackClient();
    JackLoopbackClient(const JackLoopbackClient&) = delete;
    JackLoopbackClient& operator=(const JackLoopbackClient&) = delete;

    // Thread: control (one thread). From the start of the next process cycle, "play" carries
    // `samples`, then silence. Replaces whatever was playing or queued.
    void play(std::vector<float> samples);
    // Recorded frame number at which the latest playback's first sample went out; empty until
    // the process callback has taken it.
    [[nodiscard]] std::optional<std::uint64_t> play_start_frame() const noexcept;

    // Thread: any. Frames recorded so far; entries never change once visible here.
    [[nodiscard]] std::span<const float> recorded() const noexcept;
    // True once at least `frames` frames are recorded; false after `timeout`.
    [[nodiscard]] bool wait_for_recorded_frames(std::size_t frames,
                                                std::chrono::milliseconds timeout) const;
    [[nodiscard]] std::uint64_t frames_processed() const noexcept;
    // Frames that arrived after the recording was full.
    [[nodiscard]] std::uint64_t frames_dropped() const noexcept;

    // Xruns the server reported to this client, and the frames_processed() value at each of
    // the first kMaxXrunsNoted, so a comparison can exempt the periods around them.
    static constexpr std::size_t kMaxXrunsNoted = 64;
    [[nodiscard]] std::uint64_t xruns() const noexcept;
    [[nodiscard]] std::vector<std::uint64_t> xrun_frames() const;

    // True once JACK called the shutdown callback: the server went away under us.
    [[nodiscard]] bool server_gone() const noexcept;
    [[nodiscard]] bool wait_for_server_gone(std::chrono::milliseconds timeout) const;

    // Thread: setup. Full port names ("client:play") and the graph, by name.
    [[nodiscard]] std::string client_name() const;
    [[nodiscard]] std::string play_port_name() const;
    [[nodiscard]] std::string record_port_name() const;
    // All ports whose full name matches the regular expression `pattern` ("" matches all).
    [[nodiscard]] std::vector<std::string> ports(const std::string& pattern = "") const;
    // Connects an output port to an input port, retrying for up to 2 s while the other client
    // is not yet active; throws with both names when JACK still refuses.
    void connect(const std::string& source, const std::string& destination);
    [[nodiscard]] std::uint32_t sample_rate_hz() const noexcept;
    [[nodiscard]] std::uint32_t period_frames() const noexcept;

private:
    struct Playback {
        std::vector<float> samples;
        std::size_t position = 0;  // next sample to write; touched by the process callback only
    };

    // Thread: real-time (JACK's process thread). Never allocates, locks or throws.
    static int process(jack_nframes_t n_frames, void* self) noexcept;
    // Thread: JACK's notification thread.
    static int on_xrun(void* self) noexcept;
    static void on_shutdown(void* self) noexcept;

    jack_client_t* client_ = nullptr;
    jack_port_t* play_port_ = nullptr;
    jack_port_t* record_port_ = nullptr;

    std::vector<float> recording_;  // record_capacity_frames, allocated before activation
    alignas(64) std::atomic<std::uint64_t> frames_processed_{0};  // written by process()
    std::atomic<std::uint64_t> frames_dropped_{0};                // written by process()

    // Playback hand-over (the worker pattern of STYLE.md): play() publishes into pending_,
    // process() takes it at a cycle start and parks the buffer it replaces in retired_, which
    // play() and the destructor free. process() only swaps while retired_ is empty.
    alignas(64) std::atomic<Playback*> pending_{nullptr};
    std::atomic<Playback*> retired_{nullptr};
    Playback* current_ = nullptr;                    // owned by process() while active
    std::atomic<std::int64_t> play_start_frame_{-1};  // -1: no playback taken yet

    alignas(64) std::atomic<std::uint64_t> xruns_{0};
    std::atomic<std::uint64_t> xrun_frames_[kMaxXrunsNoted] = {};
    std::atomic<bool> server_gone_{false};
};

}  // namespace statestream::test
