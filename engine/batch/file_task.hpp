#pragma once
// What a batch does to each file: `statestream batch enhance` (enhance_task.hpp) and
// `statestream batch transcribe` (transcribe_task.hpp) behind one interface, so the runner
// (batch_runner.hpp) schedules, resumes, interrupts and reports both the same way.
//
// Every output is written under a temporary name, partial_path_of(output), and renamed into
// place only when complete: the final name exists only for a finished file, which is what
// resume relies on. A task that fails or is stopped throws, and the runner removes the
// temporary file.

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "engine/file_run_options.hpp"

namespace statestream::engine::batch {

// How a task runs the model over a file: the engine's whole-file runs' choice
// (engine/file_run_options.hpp); the bench times both.
using engine::ModelCalls;

// What a task hands the engine's file run: its model calls, and the batch's stop flag (which
// must outlive the run).
[[nodiscard]] inline FileRunOptions file_run_options(ModelCalls calls, std::size_t chunk_hops,
                                                     const std::atomic<bool>& stop) noexcept {
    return {calls, chunk_hops, &stop};
}

// Thrown by a task that saw the stop flag: the file was abandoned, not failed. The engine's
// file runs throw it themselves, so a task passes it on untouched.
using BatchInterrupted = engine::FileRunStopped;

struct FileOutcome {
    double audio_seconds = 0.0;        // of the input
    double process_cpu_seconds = 0.0;  // this thread's CPU time on the file
};

// Where an output lives until it is complete ("talk.wav" -> "talk.wav.partial", as
// engine/io/audio_file.hpp's writer names it). Not an audio extension, so a folder search
// never takes it for an input.
[[nodiscard]] inline std::filesystem::path partial_path_of(const std::filesystem::path& output) {
    return output.string() + ".partial";
}

class FileTask {
public:
    virtual ~FileTask() = default;

    // "enhance" or "transcribe", for messages and the report.
    [[nodiscard]] virtual std::string_view name() const noexcept = 0;
    // The outputs' extension with its dot (".wav", ".txt").
    [[nodiscard]] virtual std::string output_extension() const = 0;
    // What runs, for the report and the summary ("chunked: one forward() per 16 hops").
    [[nodiscard]] virtual std::string describe() const = 0;

    // Thread: worker; called for many files at once on different threads, so it keeps all
    // per-file state (model state, workspace, decoder, buffers) on its own stack. Reads
    // `input`, writes `output` through partial_path_of(output) and renames it at the end. Reads
    // `stop` between chunks and throws BatchInterrupted once it is set; throws another
    // std::exception naming the file for anything wrong with the input (unreadable, corrupt,
    // empty, non-finite, a rate the model cannot take) or the output (disk full).
    [[nodiscard]] virtual FileOutcome process(const std::filesystem::path& input,
                                              const std::filesystem::path& output,
                                              const std::atomic<bool>& stop) const = 0;
};

}  // namespace statestream::engine::batch
