#include "engine/batch/batch_report.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace statestream::engine::batch {

namespace {

constexpr double kSecondsPerHour = 3600.0;

}  // namespace

std::string batch_report_json(const BatchResult& result, const BatchDescription& description) {
    nlohmann::json files = nlohmann::json::array();
    for (const FileRecord& f : result.files) {
        nlohmann::json entry = {{"input", f.item.input.string()},
                                {"relative", f.item.relative.generic_string()},
                                {"output", f.output.string()},
                                {"status", std::string(status_name(f.status))},
                                {"error", f.status == FileStatus::kFailed ? nlohmann::json(f.error) : nlohmann::json()},
                                {"bytes", f.item.bytes},
                                {"wall_s", f.wall_seconds},
                                {"cpu_s", f.cpu_seconds},
                                {"audio_s", f.audio_seconds}};
        files.push_back(std::move(entry));
    }
    const BatchProgress& p = result.progress;
    const nlohmann::json doc = {
        {"schema", "statestream.batch/1"},
        {"task", description.task},
        {"how", description.how},
        {"out", description.out_folder.string()},
        {"shard", {{"index", description.shard.index}, {"count", description.shard.count}}},
        {"files_listed", description.files_listed},
        {"jobs", result.jobs},
        {"interrupted", result.interrupted},
        {"wall_s", p.elapsed_seconds},
        {"cpu_s", result.cpu_seconds()},
        {"audio_s", p.audio_seconds},
        {"times_real_time", p.times_real_time()},
        {"counts",
         {{"files", result.files.size()},
          {"done", result.count(FileStatus::kDone)},
          {"skipped", result.count(FileStatus::kSkipped)},
          {"failed", result.count(FileStatus::kFailed)},
          {"interrupted", result.count(FileStatus::kInterrupted)},
          {"not_started", result.count(FileStatus::kNotStarted)}}},
        {"files", files}};
    return doc.dump(2) + "\n";
}

std::string batch_summary_text(const BatchResult& result, const BatchDescription& description,
                               const std::filesystem::path& report_path) {
    const BatchProgress& p = result.progress;
    std::string text = fmt::format("batch {}: ", description.task);
    if (description.shard.count > 1) {
        text += fmt::format("shard {}/{}, {} of {} files listed; ", description.shard.index,
                            description.shard.count, result.files.size(), description.files_listed);
    } else {
        text += fmt::format("{} files; ", result.files.size());
    }
    text += fmt::format("{} done, {} skipped (done before), {} failed", result.count(FileStatus::kDone),
                        result.count(FileStatus::kSkipped), result.count(FileStatus::kFailed));
    text += fmt::format("; {:.3f} h of audio in {} ({:.1f}x real time) on {} jobs\n",
                        p.audio_seconds / kSecondsPerHour, format_duration(p.elapsed_seconds),
                        p.times_real_time(), result.jobs);
    if (const std::size_t failed = result.count(FileStatus::kFailed); failed > 0) {
        text += fmt::format("failed ({}; no output written, a rerun tries them again):\n", failed);
        for (const FileRecord& f : result.files) {
            if (f.status == FileStatus::kFailed) {
                text += fmt::format("  {}: {}\n", f.item.relative.generic_string(), f.error);
            }
        }
    }
    if (result.interrupted) {
        text += fmt::format("interrupted: {} files abandoned and {} not started, none of them written; "
                            "run the same command again to resume (finished files are skipped)\n",
                            result.count(FileStatus::kInterrupted), result.count(FileStatus::kNotStarted));
    }
    text += fmt::format("report: {}\n", report_path.string());
    return text;
}

std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0.0) return "?";
    if (seconds < 60.0) return fmt::format("{:.1f} s", seconds);
    const auto whole = static_cast<long long>(std::llround(seconds));
    if (whole < 3600) return fmt::format("{} min {:02} s", whole / 60, whole % 60);
    return fmt::format("{} h {:02} min", whole / 3600, whole / 60 % 60);
}

std::string progress_line(const BatchProgress& p, std::size_t bar_width) {
    std::string line;
    // By bytes, as the ETA: a finished hour-long file counts for more than a finished clip.
    const double share = p.bytes_to_process > 0 ? static_cast<double>(p.bytes_finished) /
                                                      static_cast<double>(p.bytes_to_process)
                                                : 1.0;
    if (bar_width > 0) {
        const auto filled = static_cast<std::size_t>(std::lround(std::clamp(share, 0.0, 1.0) *
                                                                 static_cast<double>(bar_width)));
        line.assign(1, '[');  // appended piece by piece: GCC 12's -Wrestrict misfires on "[" + string
        line.append(filled, '#').append(bar_width - filled, '.').append("] ");
    } else {
        line = fmt::format("{} ", format_duration(p.elapsed_seconds));
    }
    line += fmt::format("{}/{} files", p.files_finished, p.files_to_process);
    if (p.files_failed > 0) line += fmt::format(" ({} failed)", p.files_failed);
    line += fmt::format(", {:.3f} h audio, {:.1f}x real time", p.audio_seconds / kSecondsPerHour,
                        p.times_real_time());
    if (p.stopping) {
        line += fmt::format(", stopping: waiting for {} running files", p.files_running);
    } else if (const auto eta = p.eta_seconds(); eta && p.files_finished < p.files_to_process) {
        line += ", ETA " + format_duration(*eta);
    }
    return line;
}

}  // namespace statestream::engine::batch
