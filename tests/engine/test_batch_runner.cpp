// engine/batch/batch_runner with a stand-in task (no model), so the runner's own contract is
// what is tested: failures are recorded and never stop the batch, outputs appear only complete,
// resume skips finished files, a stop request abandons running files and starts no others, and
// `jobs` files really run at once.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>


#include "engine/batch/atomic_file.hpp"
#include "engine/batch/batch_report.hpp"
#include "engine/batch/batch_runner.hpp"
#include "engine/batch/input_list.hpp"
#include "tests/support/scratch_dir.hpp"

using namespace statestream::engine::batch;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const char* name) { return statestream::test::fresh_scratch_dir("batch-runner", name); }

std::string slurp(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Uppercases a text file. A file whose text is "fail" fails halfway, after writing part of its
// output; "wait" holds its worker until the test releases it, writing part of its output first
// and then watching the stop flag as a real task does between blocks.
class UppercaseTask final : public FileTask {
public:
    std::string_view name() const noexcept override { return "uppercase"; }
    std::string output_extension() const override { return ".out"; }
    std::string describe() const override { return "uppercase"; }

    FileOutcome process(const fs::path& input, const fs::path& output,
                        const std::atomic<bool>& stop) const override {
        const std::string text = slurp(input);
        {
            const std::lock_guard lock(mutex_);
            max_running_ = std::max(max_running_, ++running_);
            ++started_;
            changed_.notify_all();
        }
        const auto leave = [&] {
            const std::lock_guard lock(mutex_);
            --running_;
        };
        if (text == "fail" || text == "wait") std::ofstream(partial_path_of(output)) << "half";
        if (text == "fail") {
            leave();
            throw std::runtime_error(std::string("'") + input.string() + "': says fail");
        }
        if (text == "wait") {
            std::unique_lock lock(mutex_);
            while (!released_ && !stop.load()) changed_.wait_for(lock, std::chrono::milliseconds(5));
            if (stop.load()) {
                --running_;
                throw BatchInterrupted();
            }
        }
        if (text == "gather") {  // waits (bounded) until `gather_` files run at once
            std::unique_lock lock(mutex_);
            changed_.wait_for(lock, std::chrono::seconds(5), [&] { return running_ >= gather_; });
        }
        std::string upper = text;
        for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        write_file_atomically(output, upper);
        leave();
        return {static_cast<double>(text.size()), 0.0};
    }

    void release() {
        const std::lock_guard lock(mutex_);
        released_ = true;
        changed_.notify_all();
    }
    void wait_until_started(std::size_t files) {
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, std::chrono::seconds(10), [&] { return started_ >= files; });
    }
    std::size_t max_running() const {
        const std::lock_guard lock(mutex_);
        return max_running_;
    }
    std::size_t gather_ = 1;

private:
    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    mutable std::size_t running_ = 0;
    mutable std::size_t max_running_ = 0;
    mutable std::size_t started_ = 0;
    bool released_ = false;
};

std::vector<BatchItem> write_inputs(const fs::path& in, const std::vector<std::pair<std::string, std::string>>& files) {
    for (const auto& [name, text] : files) {
        fs::create_directories((in / name).parent_path());
        std::ofstream(in / name) << text;
    }
    std::vector<BatchItem> items;
    for (const auto& [name, text] : files) {
        items.push_back({fs::absolute(in / name), fs::path(name), static_cast<std::uint64_t>(text.size())});
    }
    return items;
}

std::vector<fs::path> partial_files(const fs::path& dir) {
    std::vector<fs::path> found;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (entry.path().extension() == ".partial") found.push_back(entry.path());
    }
    return found;
}

}  // namespace

TEST_CASE("Batch runner: failed files are recorded, the rest done, no partial output left",
          "[engine][batch]") {
    const fs::path dir = scratch("failures");
    const auto items = write_inputs(dir / "in", {{"a.txt", "alpha"}, {"sub/b.txt", "fail"}, {"c.txt", "gamma"},
                                                 {"empty.txt", ""}});
    UppercaseTask task;
    std::vector<std::string> reported;
    std::size_t ticks = 0;
    BatchObserver observer;
    observer.file_failed = [&](const FileRecord& r) { reported.push_back(r.item.relative.generic_string()); };
    observer.tick = [&](const BatchProgress&) { ++ticks; };
    const std::atomic<bool> stop{false};
    const BatchResult result = run_batch(task, items, dir / "out", {2, false, 0.01}, stop, observer);

    CHECK(result.count(FileStatus::kDone) == 2);
    CHECK(result.count(FileStatus::kFailed) == 2);
    CHECK_FALSE(result.interrupted);
    CHECK(slurp(dir / "out" / "a.out") == "ALPHA");
    CHECK(slurp(dir / "out" / "c.out") == "GAMMA");
    CHECK_FALSE(fs::exists(dir / "out" / "sub" / "b.out"));
    CHECK(partial_files(dir / "out").empty());
    CHECK_THAT(result.files[1].error, Contains("b.txt") && Contains("says fail"));
    CHECK_THAT(result.files[3].error, Contains("empty.txt") && Contains("is empty (0 bytes)"));
    std::sort(reported.begin(), reported.end());
    CHECK(reported == std::vector<std::string>{"empty.txt", "sub/b.txt"});
    CHECK(ticks >= 1);
    CHECK(result.progress.files_finished == 4);
    CHECK(result.progress.audio_seconds == Approx(10.0));  // "alpha" and "gamma": the stand-in's "seconds"

    const std::string summary = batch_summary_text(result, {"uppercase", "uppercase", dir / "out", {}, 4}, "r.json");
    CHECK_THAT(summary, Contains("2 done") && Contains("2 failed") && Contains("sub/b.txt: ") &&
                            Contains("empty.txt: "));
    const std::string report = batch_report_json(result, {"uppercase", "uppercase", dir / "out", {}, 4});
    CHECK_THAT(report, Contains("\"schema\": \"statestream.batch/1\"") && Contains("\"status\": \"failed\""));
    fs::remove_all(dir);
}

TEST_CASE("Batch runner: a rerun skips finished outputs; force redoes them", "[engine][batch]") {
    const fs::path dir = scratch("resume");
    const auto items = write_inputs(dir / "in", {{"a.txt", "alpha"}, {"b.txt", "beta"}, {"c.txt", "fail"}});
    UppercaseTask task;
    const std::atomic<bool> stop{false};
    const BatchResult first = run_batch(task, items, dir / "out", {2, false, 0.01}, stop);
    CHECK(first.count(FileStatus::kDone) == 2);

    std::ofstream(dir / "out" / "a.out") << "kept";  // a finished output is never touched again
    const BatchResult second = run_batch(task, items, dir / "out", {2, false, 0.01}, stop);
    CHECK(second.count(FileStatus::kSkipped) == 2);
    CHECK(second.count(FileStatus::kDone) == 0);
    CHECK(second.count(FileStatus::kFailed) == 1);  // failures are retried
    CHECK(second.progress.files_to_process == 1);
    CHECK(slurp(dir / "out" / "a.out") == "kept");

    const BatchResult forced = run_batch(task, items, dir / "out", {2, true, 0.01}, stop);
    CHECK(forced.count(FileStatus::kDone) == 2);
    CHECK(slurp(dir / "out" / "a.out") == "ALPHA");
    fs::remove_all(dir);
}

TEST_CASE("Batch runner: a stop abandons running files, starts no others, leaves no partial output",
          "[engine][batch]") {
    const fs::path dir = scratch("stop");
    // Longest first: the two "wait" files (the largest) start first on the two jobs.
    const auto items = write_inputs(dir / "in", {{"a.txt", "a"}, {"w1.txt", "wait"}, {"w2.txt", "wait"},
                                                 {"b.txt", "b"}, {"c.txt", "c"}});
    UppercaseTask task;
    std::atomic<bool> stop{false};
    std::thread stopper([&] {
        task.wait_until_started(2);
        stop.store(true);
    });
    const BatchResult result = run_batch(task, items, dir / "out", {2, false, 0.01}, stop);
    stopper.join();
    CHECK(result.interrupted);
    CHECK(result.count(FileStatus::kInterrupted) == 2);
    CHECK(result.count(FileStatus::kNotStarted) == 3);
    CHECK(result.count(FileStatus::kDone) == 0);
    CHECK(partial_files(dir / "out").empty());
    CHECK_THAT(batch_summary_text(result, {"uppercase", "", dir / "out", {}, 5}, "r.json"),
               Contains("interrupted: 2 files abandoned and 3 not started") && Contains("resume"));

    // The rerun does the rest.
    task.release();
    stop.store(false);
    const BatchResult rerun = run_batch(task, items, dir / "out", {2, false, 0.01}, stop);
    CHECK(rerun.count(FileStatus::kDone) == 5);
    CHECK_FALSE(rerun.interrupted);
    fs::remove_all(dir);
}

TEST_CASE("Batch runner: `jobs` files run at once", "[engine][batch]") {
    const fs::path dir = scratch("jobs");
    std::vector<std::pair<std::string, std::string>> files;
    for (int i = 0; i < 6; ++i) files.emplace_back(std::string("g") + std::to_string(i) + ".txt", "gather");
    const auto items = write_inputs(dir / "in", files);
    UppercaseTask task;
    task.gather_ = 3;
    const std::atomic<bool> stop{false};
    const BatchResult result = run_batch(task, items, dir / "out", {3, false, 0.01}, stop);
    CHECK(result.count(FileStatus::kDone) == 6);
    CHECK(result.jobs == 3);
    CHECK(task.max_running() == 3);
    fs::remove_all(dir);
}

TEST_CASE("Batch progress: speed, ETA and the line a terminal shows", "[engine][batch]") {
    BatchProgress p;
    p.files_to_process = 10;
    p.files_finished = 4;
    p.bytes_to_process = 1000;
    p.bytes_finished = 250;
    p.audio_seconds = 3600.0;
    p.elapsed_seconds = 60.0;
    CHECK(p.times_real_time() == Approx(60.0));
    REQUIRE(p.eta_seconds().has_value());
    CHECK(*p.eta_seconds() == Approx(180.0));  // a quarter of the bytes took a minute
    const std::string bar = progress_line(p, 8);
    CHECK_THAT(bar, Contains("[##......] 4/10 files") && Contains("1.000 h audio") &&
                        Contains("60.0x real time") && Contains("ETA 3 min 00 s"));
    CHECK_THAT(progress_line(p, 0), Contains("1 min 00 s 4/10 files"));
    p.bytes_finished = 0;
    CHECK_FALSE(p.eta_seconds().has_value());
    CHECK(format_duration(7384.0) == "2 h 03 min");
    CHECK(format_duration(12.34) == "12.3 s");
}
