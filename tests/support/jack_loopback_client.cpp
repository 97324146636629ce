#include "tests/support/jack_loopback_client.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace statestream::test {

namespace {

// How often the waits look again: well under a 21 ms period, cheap on two cores.
constexpr std::chrono::milliseconds kWaitPollInterval{5};

std::string describe_jack_status(jack_status_t status) {
    struct Bit {
        jack_status_t bit;
        const char* meaning;
    };
    static constexpr Bit kBits[] = {
        {JackFailure, "overall failure"},
        {JackInvalidOption, "invalid option"},
        {JackNameNotUnique, "client name taken"},
        {JackServerStarted, "server started"},
        {JackServerFailed, "cannot connect to the server"},
        {JackServerError, "server communication error"},
        {JackNoSuchClient, "no such client"},
        {JackLoadFailure, "cannot load internal client"},
        {JackInitFailure, "cannot initialise client"},
        {JackShmFailure, "cannot access shared memory"},
        {JackVersionError, "client/server protocol mismatch"},
        {JackBackendError, "backend error"},
        {JackClientZombie, "client zombified"},
    };
    std::string text;
    for (const auto& [bit, meaning] : kBits) {
        if ((status & bit) == 0) continue;
        if (!text.empty()) text += ", ";
        text += meaning;
    }
    return text.empty() ? "no status bits" : text;
}

template <typename Predicate>
bool poll_until(Predicate done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return done();
        std::this_thread::sleep_for(kWaitPollInterval);
    }
    return true;
}

}  // namespace

JackLoopbackClient::JackLoopbackClient(const JackLoopbackConfig& config)
    : recording_(config.record_capacity_frames, 0.0f) {
    const std::string where = "JACK client '" + config.client_name + "' on server '" +
                              config.server_name + "'";
    jack_status_t status{};
    client_ = jack_client_open(config.client_name.c_str(),
                               static_cast<jack_options_t>(JackNoStartServer | JackServerName),
                               &status, config.server_name.c_str());
    if (client_ == nullptr) {
        throw std::runtime_error(where + ": jack_client_open failed (" +
                                 describe_jack_status(status) +
                                 "). Is the server running (tests/support/jack_server)?");
    }
    auto fail = [&](const std::string& what) {
        jack_client_close(client_);
        client_ = nullptr;
        throw std::runtime_error(where + ": " + what);
    };
    play_port_ = jack_port_register(client_, "play", JACK_DEFAULT_AUDIO_TYPE, JackPortIsOutput, 0);
    record_port_ =
        jack_port_register(client_, "record", JACK_DEFAULT_AUDIO_TYPE, JackPortIsInput, 0);
    if (play_port_ == nullptr || record_port_ == nullptr) fail("cannot register its ports");
    if (jack_set_process_callback(client_, &JackLoopbackClient::process, this) != 0) {
        fail("cannot set the process callback");
    }
    if (jack_set_xrun_callback(client_, &JackLoopbackClient::on_xrun, this) != 0) {
        fail("cannot set the xrun callback");
    }
    jack_on_shutdown(client_, &JackLoopbackClient::on_shutdown, this);
    if (jack_activate(client_) != 0) fail("jack_activate failed");
}

JackLoopbackClient::~JackLoopbackClient() {
    if (client_ != nullptr) {
        // A dead server cannot deactivate anything; closing still frees the client's side.
        if (!server_gone()) jack_deactivate(client_);
        jack_client_close(client_);
    }
    // The process thread is gone: every playback buffer is ours again.
    delete current_;
    delete pending_.exchange(nullptr, std::memory_order_acquire);
    delete retired_.exchange(nullptr, std::memory_order_acquire);
}

void JackLoopbackClient::play(std::vector<float> samples) {
    delete retired_.exchange(nullptr, std::memory_order_acquire);  // process() is done with it
    auto* fresh = new Playback{std::move(samples), 0};
    // A buffer still in pending_ was never seen by process(): it is safe to free here.
    delete pending_.exchange(fresh, std::memory_order_acq_rel);
}

std::optional<std::uint64_t> JackLoopbackClient::play_start_frame() const noexcept {
    const std::int64_t frame = play_start_frame_.load(std::memory_order_acquire);
    if (frame < 0) return std::nullopt;
    return static_cast<std::uint64_t>(frame);
}

int JackLoopbackClient::process(jack_nframes_t n_frames, void* self_pointer) noexcept {
    auto& self = *static_cast<JackLoopbackClient*>(self_pointer);
    const std::uint64_t first_frame = self.frames_processed_.load(std::memory_order_relaxed);

    // Record before playing. When "play" feeds "record" directly, JACK hands this client the
    // same buffer for both ports, so reading first keeps what the previous cycle played: the
    // loop then behaves like a device, one period late, instead of reading its own writes.
    const auto* in = static_cast<const float*>(jack_port_get_buffer(self.record_port_, n_frames));
    const std::size_t capacity = self.recording_.size();
    const std::size_t fits =
        first_frame >= capacity
            ? 0
            : static_cast<std::size_t>(std::min<std::uint64_t>(n_frames, capacity - first_frame));
    if (fits > 0) std::memcpy(self.recording_.data() + first_frame, in, fits * sizeof(float));
    if (fits < n_frames) {
        self.frames_dropped_.fetch_add(n_frames - fits, std::memory_order_relaxed);
    }

    // Take a new playback only when the last one we replaced has been freed, so retired_ never
    // holds two buffers; otherwise try again next cycle.
    if (self.retired_.load(std::memory_order_acquire) == nullptr) {
        if (Playback* fresh = self.pending_.exchange(nullptr, std::memory_order_acq_rel)) {
            self.retired_.store(self.current_, std::memory_order_release);
            self.current_ = fresh;
            self.play_start_frame_.store(static_cast<std::int64_t>(first_frame),
                                         std::memory_order_release);
        }
    }
    auto* out = static_cast<float*>(jack_port_get_buffer(self.play_port_, n_frames));
    std::size_t written = 0;
    if (Playback* playback = self.current_) {
        const std::size_t left = playback->samples.size() - playback->position;
        written = std::min<std::size_t>(n_frames, left);
        std::memcpy(out, playback->samples.data() + playback->position, written * sizeof(float));
        playback->position += written;
    }
    std::fill(out + written, out + n_frames, 0.0f);

    // Publishes the recorded samples above to recorded().
    self.frames_processed_.store(first_frame + n_frames, std::memory_order_release);
    return 0;
}

int JackLoopbackClient::on_xrun(void* self_pointer) noexcept {
    auto& self = *static_cast<JackLoopbackClient*>(self_pointer);
    const std::uint64_t index = self.xruns_.fetch_add(1, std::memory_order_acq_rel);
    if (index < kMaxXrunsNoted) {
        self.xrun_frames_[index].store(self.frames_processed_.load(std::memory_order_acquire),
                                       std::memory_order_release);
    }
    return 0;
}

void JackLoopbackClient::on_shutdown(void* self_pointer) noexcept {
    static_cast<JackLoopbackClient*>(self_pointer)->server_gone_.store(true,
                                                                       std::memory_order_release);
}

std::span<const float> JackLoopbackClient::recorded() const noexcept {
    const std::uint64_t frames = frames_processed_.load(std::memory_order_acquire);
    return {recording_.data(),
            static_cast<std::size_t>(std::min<std::uint64_t>(frames, recording_.size()))};
}

bool JackLoopbackClient::wait_for_recorded_frames(std::size_t frames,
                                                  std::chrono::milliseconds timeout) const {
    return poll_until([&] { return recorded().size() >= frames; }, timeout);
}

std::uint64_t JackLoopbackClient::frames_processed() const noexcept {
    return frames_processed_.load(std::memory_order_acquire);
}

std::uint64_t JackLoopbackClient::frames_dropped() const noexcept {
    return frames_dropped_.load(std::memory_order_relaxed);
}

std::uint64_t JackLoopbackClient::xruns() const noexcept {
    return xruns_.load(std::memory_order_acquire);
}

std::vector<std::uint64_t> JackLoopbackClient::xrun_frames() const {
    const auto noted = std::min<std::uint64_t>(xruns(), kMaxXrunsNoted);
    std::vector<std::uint64_t> frames;
    for (std::uint64_t i = 0; i < noted; ++i) {
        frames.push_back(xrun_frames_[i].load(std::memory_order_acquire));
    }
    return frames;
}

bool JackLoopbackClient::server_gone() const noexcept {
    return server_gone_.load(std::memory_order_acquire);
}

bool JackLoopbackClient::wait_for_server_gone(std::chrono::milliseconds timeout) const {
    return poll_until([&] { return server_gone(); }, timeout);
}

std::string JackLoopbackClient::client_name() const { return jack_get_client_name(client_); }

std::string JackLoopbackClient::play_port_name() const { return jack_port_name(play_port_); }

std::string JackLoopbackClient::record_port_name() const { return jack_port_name(record_port_); }

std::vector<std::string> JackLoopbackClient::ports(const std::string& pattern) const {
    std::vector<std::string> names;
    const char** found = jack_get_ports(client_, pattern.empty() ? nullptr : pattern.c_str(),
                                        nullptr, 0);
    if (found == nullptr) return names;
    for (const char** name = found; *name != nullptr; ++name) names.emplace_back(*name);
    jack_free(static_cast<void*>(found));
    return names;
}

void JackLoopbackClient::connect(const std::string& source, const std::string& destination) {
    // A client's ports are visible from jack_port_register() on, but JACK refuses to connect
    // them until that client calls jack_activate(); a program under test (jalv, statestream)
    // does both at start-up, so a refusal right after its ports appear is retried for up to
    // 2 s before it counts.
    int result = jack_connect(client_, source.c_str(), destination.c_str());
    for (int attempt = 0; result != 0 && result != EEXIST && attempt < 40; ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        result = jack_connect(client_, source.c_str(), destination.c_str());
    }
    if (result != 0) {
        throw std::runtime_error("JACK client '" + client_name() + "': cannot connect '" + source +
                                 "' -> '" + destination + "' (jack_connect returned " +
                                 std::to_string(result) +
                                 "; both ports must exist, the first an output, the second an "
                                 "input, and not already connected)");
    }
}

std::uint32_t JackLoopbackClient::sample_rate_hz() const noexcept {
    return jack_get_sample_rate(client_);
}

std::uint32_t JackLoopbackClient::period_frames() const noexcept {
    return jack_get_buffer_size(client_);
}

}  // namespace statestream::test
