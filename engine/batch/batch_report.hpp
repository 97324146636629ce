#pragma once
// What a batch says when it ends: a JSON report (statestream.batch/1, docs/batch.md) with
// every file's status, error, wall and CPU seconds and audio seconds, and a short summary for
// people that names every failed file and says how to resume.

#include <cstddef>
#include <filesystem>
#include <string>

#include "engine/batch/batch_runner.hpp"
#include "engine/batch/shard.hpp"

namespace statestream::engine::batch {

struct BatchDescription {
    std::string task;                    // FileTask::name()
    std::string how;                     // FileTask::describe()
    std::filesystem::path out_folder;
    Shard shard;
    std::size_t files_listed = 0;        // before --shard picked this machine's part
};

// Thread: any (allocates). The report as a JSON document, indented, ending in a newline.
[[nodiscard]] std::string batch_report_json(const BatchResult& result, const BatchDescription& description);

// Thread: any (allocates). The summary: counts, speed, each failed file with its error, and
// what an interruption left; the report's path last.
[[nodiscard]] std::string batch_summary_text(const BatchResult& result, const BatchDescription& description,
                                             const std::filesystem::path& report_path);

// Thread: any. "1 h 02 min", "3 min 07 s", "12.4 s": durations as progress lines show them.
[[nodiscard]] std::string format_duration(double seconds);

// Thread: any. One progress line without a newline: files, audio hours, speed, ETA. With
// bar_width > 0 it starts with a bar of that many characters (for a terminal, redrawn in
// place); with 0 it starts with the elapsed time (for logs).
[[nodiscard]] std::string progress_line(const BatchProgress& progress, std::size_t bar_width);

}  // namespace statestream::engine::batch
