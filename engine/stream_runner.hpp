#pragma once
// Runs one pipeline from a source to a sink until the input ends, a stop is requested
// (Ctrl-C), a time limit passes or the device vanishes, and reports what happened:
//
//   source (file reader on the control thread, or the audio callback)
//     -> RealtimeWorker (its own thread: the pipeline's steps, timed)
//     -> sink (a task on the NonRealtimePool writing a file, or the audio callback playing)
//
// On every way out, what was produced is flushed and the output file finished, so a stopped
// or failed run keeps its output; the report says how it ended and carries the statistics.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "engine/deadline_meter.hpp"
#include "engine/io/block_sink.hpp"
#include "engine/io/audio_device_stream.hpp"
#include "engine/pipeline.hpp"
#include "engine/realtime_worker.hpp"

namespace statestream::engine {

struct RunOptions {
    std::string source;  // a file path, or "device:SPEC" (find_audio_device)
    std::string sink;    // ".wav"/".flac"/".csv" path, "device:SPEC", or "none"
    std::optional<double> max_seconds;  // stop after this much input
    std::size_t frames_per_buffer = 0;  // audio devices: 0 lets the host choose
    double suggested_latency_s = 0.0;   // audio devices: 0 takes the device's default
    // No callback for this long means the device is gone.
    std::chrono::milliseconds device_timeout{1500};
    // A callback on the audio thread, for instrumentation (tests arm their hooks there).
    io::CallbackObserver observer;
    // When set, the output goes to the sink this makes (given the pipeline's output shape)
    // instead of the one `sink` names; `sink` is then only its name in reports. A task's own
    // consumer of vectors (a transcript decoder) plugs in here.
    std::function<std::unique_ptr<io::BlockSink>(const StageShape&)> make_sink;
};

// kBadInput: the input file failed to read, is truncated or holds a NaN or infinite sample;
// what came before it was processed and written.
enum class RunEnd { kRunning, kEndOfInput, kStopRequested, kTimeLimit, kDeviceLost, kFailed, kBadInput };
[[nodiscard]] const char* run_end_name(RunEnd end) noexcept;

struct RunReport {
    RunEnd end = RunEnd::kRunning;  // how it ended; kRunning in reports taken mid-run
    std::string detail;             // what ended it, for the user (the error, the device)
    std::string source;             // what was opened, with latencies for devices
    std::string sink;
    double input_seconds = 0.0;     // audio taken in
    std::uint64_t vectors_written = 0;
    double pipeline_latency_s = 0.0;
    WorkerCounters worker;
    StepStatistics steps;
    std::optional<io::AudioStreamCounters> audio;
};

// Thread: any (allocates). The report as one JSON object (schema statestream.run/1), and as
// the lines printed at the end of a run.
[[nodiscard]] std::string run_report_json(const RunReport& report);
[[nodiscard]] std::string run_report_text(const RunReport& report);

// Thread: setup/control. Runs to the end. `stop` is polled every few milliseconds (a signal
// handler sets it); `on_poll` (may be empty) runs on the control thread at each poll with the
// report so far, for statistics on demand. Throws only for setup errors (devices, files) before
// anything runs; failures while running end the run with RunEnd::kFailed, or kBadInput when the
// input file is at fault.
[[nodiscard]] RunReport run_stream(Pipeline& pipeline, const WorkerConfig& worker_config,
                                   const RunOptions& options, const std::atomic<bool>& stop,
                                   const std::function<void(const RunReport&)>& on_poll = {});

}  // namespace statestream::engine
