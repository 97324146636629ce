#pragma once
// Runs a FileTask over a batch's files on all cores (oneTBB), resumably and interruptibly:
//
//   - outputs mirror the inputs under the output folder (input_list.hpp); a file whose output
//     already exists is skipped (its output only ever appears complete, file_task.hpp), unless
//     `force`;
//   - the other files go to `jobs` worker threads, longest first (by size), each file on one
//     thread with its own model state, so a long recording does not finish alone at the end;
//   - a file that fails (unreadable, corrupt, empty, non-finite, disk full) is recorded with
//     its error and the batch goes on; its partial output is removed;
//   - once `stop` is set (Ctrl-C, SIGTERM), no file is started, running files are abandoned at
//     their next block and their partial outputs removed; finished outputs stay, so a rerun
//     resumes where this one stopped.
//
// The calling thread takes no file: it waits, and calls the observer with the progress so far
// every tick and with each failure soon after it happens, so printing never runs on a worker.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/batch/file_task.hpp"
#include "engine/batch/input_list.hpp"

namespace statestream::engine::batch {

enum class FileStatus {
    kNotStarted,   // the batch stopped before its turn
    kDone,         // processed in this run
    kSkipped,      // its output existed already (resume)
    kFailed,       // its error says why; no output
    kInterrupted,  // abandoned when the batch stopped; no output
};

// "not_started", "done", "skipped", "failed", "interrupted": the report's words.
[[nodiscard]] std::string_view status_name(FileStatus status) noexcept;

struct FileRecord {
    BatchItem item;
    std::filesystem::path output;
    FileStatus status = FileStatus::kNotStarted;
    std::string error;             // kFailed: what was wrong, naming the file
    double wall_seconds = 0.0;     // from start to the output's rename (or the failure)
    double cpu_seconds = 0.0;      // the worker thread's CPU time in the task's processing
    double audio_seconds = 0.0;    // of the input; 0 when not processed
};

struct BatchProgress {
    std::size_t files_to_process = 0;  // in this run: the shard's files less the skipped ones
    std::size_t files_finished = 0;    // done or failed
    std::size_t files_failed = 0;
    std::size_t files_skipped = 0;
    std::size_t files_running = 0;
    double audio_seconds = 0.0;        // of the files done
    std::uint64_t bytes_to_process = 0;
    std::uint64_t bytes_finished = 0;
    double elapsed_seconds = 0.0;      // wall time since the batch started
    bool stopping = false;             // a stop was requested

    // Audio seconds done per wall second: how many times faster than real time the batch runs.
    [[nodiscard]] double times_real_time() const noexcept;
    // Wall seconds left, from the bytes still to read at the rate bytes have gone so far; none
    // before the first file finishes.
    [[nodiscard]] std::optional<double> eta_seconds() const noexcept;
};

struct BatchOptions {
    std::size_t jobs = 0;        // worker threads; 0: one per core
    bool force = false;          // process files whose output exists
    double tick_seconds = 0.25;  // how often the observer's tick runs
};

struct BatchObserver {
    std::function<void(const BatchProgress&)> tick;        // every tick_seconds, and once at the end
    std::function<void(const FileRecord&)> file_failed;    // each failure, soon after it happened
};

struct BatchResult {
    std::vector<FileRecord> files;  // in the order of the items given
    BatchProgress progress;         // at the end
    std::size_t jobs = 0;           // worker threads used
    bool interrupted = false;       // the stop flag ended the batch before every file was done

    [[nodiscard]] std::size_t count(FileStatus status) const noexcept;
    [[nodiscard]] double cpu_seconds() const noexcept;
};

// Thread: main (blocks until the batch ends; the observer runs on this thread). Throws
// BatchInputError before any work when two items would write the same output, and
// std::runtime_error when the output folder cannot be created; nothing else: every file's
// error is in its record.
[[nodiscard]] BatchResult run_batch(const FileTask& task, const std::vector<BatchItem>& items,
                                    const std::filesystem::path& out_folder, const BatchOptions& options,
                                    const std::atomic<bool>& stop, const BatchObserver& observer = {});

// Thread: any. The number of cores this process may run on (its CPU affinity), at least 1.
[[nodiscard]] std::size_t available_cores() noexcept;

}  // namespace statestream::engine::batch
