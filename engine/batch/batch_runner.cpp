#include "engine/batch/batch_runner.hpp"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <numeric>
#include <system_error>
#include <thread>

#include <fmt/core.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include "engine/thread_cpu_clock.hpp"

namespace statestream::engine::batch {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

void remove_partial(const std::filesystem::path& output) {
    std::error_code ignored;
    std::filesystem::remove(partial_path_of(output), ignored);
}

// One file start to end; never throws: whatever goes wrong is the file's record.
void process_one(const FileTask& task, FileRecord& record, const std::atomic<bool>& stop) {
    const Clock::time_point start = Clock::now();
    const double cpu0 = thread_cpu_seconds();
    try {
        std::error_code ec;
        std::filesystem::create_directories(record.output.parent_path(), ec);
        if (ec) {
            throw std::runtime_error(fmt::format("'{}': cannot create the folder ({})",
                                                 record.output.parent_path().string(), ec.message()));
        }
        // libsndfile calls an empty file "Format not recognised"; say what it is instead.
        if (std::filesystem::is_regular_file(record.item.input, ec) &&
            std::filesystem::file_size(record.item.input, ec) == 0 && !ec) {
            throw std::runtime_error(fmt::format("'{}': is empty (0 bytes); nothing to {}",
                                                 record.item.input.string(), task.name()));
        }
        const FileOutcome outcome = task.process(record.item.input, record.output, stop);
        record.status = FileStatus::kDone;
        record.audio_seconds = outcome.audio_seconds;
    } catch (const BatchInterrupted&) {
        record.status = FileStatus::kInterrupted;
    } catch (const std::exception& error) {
        record.status = FileStatus::kFailed;
        record.error = error.what();
    } catch (...) {
        record.status = FileStatus::kFailed;
        record.error = fmt::format("'{}': failed with an exception that is not a std::exception",
                                   record.item.input.string());
    }
    if (record.status != FileStatus::kDone) remove_partial(record.output);
    record.cpu_seconds = thread_cpu_seconds() - cpu0;
    record.wall_seconds = seconds_since(start);
}

}  // namespace

std::string_view status_name(FileStatus status) noexcept {
    switch (status) {
        case FileStatus::kNotStarted: return "not_started";
        case FileStatus::kDone: return "done";
        case FileStatus::kSkipped: return "skipped";
        case FileStatus::kFailed: return "failed";
        case FileStatus::kInterrupted: return "interrupted";
    }
    return "not_started";
}

double BatchProgress::times_real_time() const noexcept {
    return elapsed_seconds > 0.0 ? audio_seconds / elapsed_seconds : 0.0;
}

std::optional<double> BatchProgress::eta_seconds() const noexcept {
    if (bytes_finished == 0 || elapsed_seconds <= 0.0) return std::nullopt;
    const auto left = static_cast<double>(bytes_to_process - std::min(bytes_finished, bytes_to_process));
    return elapsed_seconds * left / static_cast<double>(bytes_finished);
}

std::size_t BatchResult::count(FileStatus status) const noexcept {
    return static_cast<std::size_t>(std::count_if(files.begin(), files.end(),
                                                  [status](const FileRecord& f) { return f.status == status; }));
}

double BatchResult::cpu_seconds() const noexcept {
    double total = 0.0;
    for (const FileRecord& f : files) total += f.cpu_seconds;
    return total;
}

std::size_t available_cores() noexcept {
    return static_cast<std::size_t>(std::max(1, tbb::info::default_concurrency()));
}

BatchResult run_batch(const FileTask& task, const std::vector<BatchItem>& items,
                      const std::filesystem::path& out_folder, const BatchOptions& options,
                      const std::atomic<bool>& stop, const BatchObserver& observer) {
    const std::string extension = task.output_extension();
    require_distinct_outputs(items, out_folder, extension);
    std::error_code ec;
    std::filesystem::create_directories(out_folder, ec);
    if (ec) {
        throw std::runtime_error(fmt::format("'{}': cannot create the output folder ({})",
                                             out_folder.string(), ec.message()));
    }

    BatchResult result;
    result.jobs = options.jobs > 0 ? options.jobs : available_cores();
    BatchProgress progress;
    std::vector<std::size_t> order;  // indices into result.files, in the order workers take them
    for (std::size_t i = 0; i < items.size(); ++i) {
        FileRecord record;
        record.item = items[i];
        record.output = output_path_for(items[i], out_folder, extension);
        if (!options.force && std::filesystem::exists(record.output, ec)) {
            record.status = FileStatus::kSkipped;
            ++progress.files_skipped;
        } else {
            order.push_back(i);
            progress.bytes_to_process += record.item.bytes;
        }
        result.files.push_back(std::move(record));
    }
    progress.files_to_process = order.size();
    // Longest first (size stands in for duration): the last file to start is then a short one,
    // so the workers finish close together instead of one long recording running on alone.
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return result.files[a].item.bytes > result.files[b].item.bytes;
    });

    std::mutex mutex;                 // guards progress, failures and finished
    std::condition_variable changed;
    std::deque<std::size_t> failures;  // records the observer has not seen yet
    bool finished = false;
    std::atomic<std::size_t> next{0};
    const Clock::time_point start = Clock::now();

    const auto drain = [&] {
        for (;;) {
            if (stop.load(std::memory_order_acquire)) return;
            const std::size_t k = next.fetch_add(1, std::memory_order_relaxed);  // only a ticket
            if (k >= order.size()) return;
            FileRecord& record = result.files[order[k]];
            {
                const std::lock_guard lock(mutex);
                ++progress.files_running;
            }
            process_one(task, record, stop);  // this record is this thread's alone until it is done
            const std::lock_guard lock(mutex);
            --progress.files_running;
            if (record.status == FileStatus::kInterrupted) continue;
            ++progress.files_finished;
            progress.bytes_finished += record.item.bytes;
            if (record.status == FileStatus::kDone) progress.audio_seconds += record.audio_seconds;
            if (record.status == FileStatus::kFailed) {
                ++progress.files_failed;
                failures.push_back(order[k]);
            }
        }
    };

    // The caller's thread only reports, so `jobs` threads work: the driver joins the arena
    // (one slot is kept for it) and jobs - 1 TBB workers fill the rest. The global limit is
    // raised for --jobs beyond the cores, which TBB would otherwise cap at one per core.
    const tbb::global_control parallelism(tbb::global_control::max_allowed_parallelism, result.jobs);
    tbb::task_arena arena(static_cast<int>(result.jobs));
    std::thread driver([&] {
        arena.execute([&] {
            tbb::task_group group;
            for (std::size_t j = 0; j < result.jobs; ++j) group.run(drain);
            group.wait();
        });
        const std::lock_guard lock(mutex);
        finished = true;
        changed.notify_all();
    });

    const auto report = [&] {
        std::vector<std::size_t> failed_now;
        BatchProgress snapshot;
        {
            const std::lock_guard lock(mutex);
            failed_now.assign(failures.begin(), failures.end());
            failures.clear();
            progress.elapsed_seconds = seconds_since(start);
            progress.stopping = stop.load(std::memory_order_acquire);
            snapshot = progress;
        }
        // Records in `failed_now` are finished: their worker no longer touches them.
        if (observer.file_failed) {
            for (const std::size_t i : failed_now) observer.file_failed(result.files[i]);
        }
        if (observer.tick) observer.tick(snapshot);
    };
    const auto tick = std::chrono::duration<double>(std::max(options.tick_seconds, 0.01));
    for (;;) {
        {
            std::unique_lock lock(mutex);
            changed.wait_for(lock, tick, [&] { return finished; });
            if (finished) break;
        }
        report();
    }
    driver.join();
    report();
    result.progress = progress;
    result.interrupted = stop.load(std::memory_order_acquire) &&
                         (result.count(FileStatus::kNotStarted) + result.count(FileStatus::kInterrupted)) > 0;
    return result;
}

}  // namespace statestream::engine::batch
