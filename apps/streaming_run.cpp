#include "apps/streaming_run.hpp"

#include <atomic>
#include <csignal>
#include <stdexcept>

#include <fmt/core.h>

#include "engine/io/audio_file.hpp"

namespace statestream::apps {

namespace {

// Set by signal handlers (lock-free atomics are async-signal-safe), read by the control thread.
std::atomic<bool> g_stop_requested{false};
std::atomic<bool> g_stats_requested{false};

extern "C" void on_stop_signal(int) {
    g_stop_requested.store(true, std::memory_order_release);
    // A second Ctrl-C ends the process at once, the usual way.
    std::signal(SIGINT, SIG_DFL);
}
extern "C" void on_stats_signal(int) { g_stats_requested.store(true, std::memory_order_release); }

// Installs the handlers for its lifetime, so an exception on the way out restores the defaults.
class SignalScope {
public:
    SignalScope() {
        g_stop_requested.store(false);
        g_stats_requested.store(false);
        std::signal(SIGINT, on_stop_signal);
        std::signal(SIGTERM, on_stop_signal);
        std::signal(SIGUSR1, on_stats_signal);
    }
    ~SignalScope() {
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
        std::signal(SIGUSR1, SIG_DFL);
    }
    SignalScope(const SignalScope&) = delete;
    SignalScope& operator=(const SignalScope&) = delete;
};

}  // namespace

ExitCode run_with_signals(const char* command, engine::Pipeline& pipeline,
                          const engine::WorkerConfig& worker, const engine::RunOptions& options,
                          bool stats_json) {
    engine::RunReport report;
    {
        const SignalScope signals;
        try {
            report = engine::run_stream(pipeline, worker, options, g_stop_requested,
                                        [](const engine::RunReport& so_far) {
                                            if (!g_stats_requested.exchange(false)) return;
                                            fmt::print(stderr, "{}\n",
                                                       engine::run_report_json(so_far));
                                        });
        } catch (const std::invalid_argument& error) {
            throw BadInputError(error.what());
        } catch (const engine::AudioFileWriteError&) {
            throw;  // the environment's fault: exit 1
        } catch (const engine::AudioFileError& error) {  // an input file that cannot be read
            throw BadInputError(error.what());
        }
    }
    if (stats_json) fmt::print("{}\n", engine::run_report_json(report));
    else fmt::print(stderr, "{}", engine::run_report_text(report));
    switch (report.end) {
        case engine::RunEnd::kEndOfInput:
        case engine::RunEnd::kStopRequested:
        case engine::RunEnd::kTimeLimit:
            return ExitCode::kSuccess;
        case engine::RunEnd::kRunning:  // not returned by run_stream
        case engine::RunEnd::kDeviceLost:
        case engine::RunEnd::kFailed:
            fmt::print(stderr, "statestream {}: {}\n", command, report.detail);
            return ExitCode::kRuntimeFailure;
        case engine::RunEnd::kBadInput:
            fmt::print(stderr, "statestream {}: {} (the output up to this point is kept)\n", command,
                       report.detail);
            return ExitCode::kBadInput;
    }
    return ExitCode::kRuntimeFailure;
}

}  // namespace statestream::apps
