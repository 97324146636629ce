// `statestream batch` end to end, as a user or a Slurm script runs it: a folder with broken
// files in it (exit 3, the summary names them, the others done), resume and --force, --shard
// splitting one job in two, manifests and formats, usage errors, and Ctrl-C in the middle of a
// batch (no output under its final name unless complete; the rerun finishes the rest).
// Models: the golden fixtures' small random ones (their words are nonsense; the command's
// contract is what is tested), and the shipped enhancer where a batch must take long enough to
// be interrupted.

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <sndfile.h>

#include "tests/support/run_process.hpp"
#include "tests/support/scratch_dir.hpp"

using Catch::Matchers::Contains;
using statestream::test::finish_process;
using statestream::test::run_process;
using statestream::test::start_process;
namespace fs = std::filesystem;

namespace {

const std::string kExe = STATESTREAM_EXE;
const fs::path kData(STATESTREAM_DATA_DIR);
const std::string kTranscriber = (kData / "fixtures" / "transcriber_fixture.safetensors").string();
const std::string kEnhancer = (kData / "models" / "enhancer.safetensors").string();

fs::path scratch(const char* name) { return statestream::test::fresh_scratch_dir("batch-cmd", name); }

// A tone burst with a syllable-like envelope, 16-bit PCM.
void write_tone(const fs::path& path, int rate, int channels, double seconds, double hz = 220.0) {
    fs::create_directories(path.parent_path());
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = channels;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
    REQUIRE(file != nullptr);
    const auto frames = static_cast<sf_count_t>(seconds * rate);
    std::vector<float> samples;
    for (sf_count_t i = 0; i < frames; ++i) {
        const double t = static_cast<double>(i) / rate;
        const auto x = static_cast<float>(0.3 * std::sin(2.0 * M_PI * hz * t) * (0.5 - 0.5 * std::cos(2.0 * M_PI * 4.0 * t)));
        for (int c = 0; c < channels; ++c) samples.push_back(x);
    }
    sf_writef_float(file, samples.data(), frames);
    sf_close(file);
}

sf_count_t frames_of(const fs::path& path) {
    SF_INFO info{};
    SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
    if (file == nullptr) return -1;
    sf_close(file);
    return info.frames;
}

std::vector<fs::path> files_with_extension(const fs::path& dir, const std::string& extension) {
    std::vector<fs::path> found;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return found;
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (entry.path().extension() == extension) found.push_back(entry.path());
    }
    return found;
}

nlohmann::json read_json(const fs::path& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
}

std::set<std::string> with_status(const nlohmann::json& report, const std::string& status) {
    std::set<std::string> names;
    for (const auto& file : report["files"]) {
        if (file["status"] == status) names.insert(file["relative"].get<std::string>());
    }
    return names;
}

}  // namespace

TEST_CASE("batch: a folder with corrupt, empty and truncated files: exit 3, the summary names them, "
          "the others are done", "[integration][batch]") {
    const fs::path dir = scratch("broken");
    const fs::path in = dir / "in";
    write_tone(in / "a.wav", 16000, 1, 1.0);
    write_tone(in / "sub" / "b.wav", 48000, 2, 0.7);
    std::ofstream(in / "broken.wav") << "RIFF this is not audio";
    std::ofstream(in / "empty.wav").close();               // zero bytes
    write_tone(in / "silent.wav", 16000, 1, 0.0);          // a header and no samples
    write_tone(in / "cut.wav", 16000, 1, 1.0);
    fs::resize_file(in / "cut.wav", fs::file_size(in / "cut.wav") - 8000);  // a download cut short

    const auto r = run_process({kExe, "batch", "transcribe", in.string(), "--out", (dir / "out").string(),
                                "--model", kTranscriber, "--lm", "none", "--jobs", "2"});
    INFO(r.out << r.err);
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.out, Contains("2 done") && Contains("4 failed"));
    for (const char* name : {"broken.wav: ", "empty.wav: ", "silent.wav: ", "cut.wav: "}) {
        CHECK_THAT(r.out, Contains(name));
    }
    CHECK_THAT(r.out, Contains("is empty (0 bytes)") && Contains("truncated") && Contains("no audio (0 frames)"));
    CHECK_THAT(r.err, Contains("statestream batch: ") && Contains("broken.wav"));  // as it happened
    CHECK(fs::exists(dir / "out" / "a.txt"));
    CHECK(fs::exists(dir / "out" / "sub" / "b.txt"));
    CHECK_FALSE(fs::exists(dir / "out" / "broken.txt"));
    CHECK(files_with_extension(dir / "out", ".partial").empty());

    const auto report = read_json(dir / "out" / "batch-report.json");
    CHECK(report["schema"] == "statestream.batch/1");
    CHECK(report["counts"]["failed"] == 4);
    CHECK(with_status(report, "done") == std::set<std::string>{"a.wav", "sub/b.wav"});
    for (const auto& file : report["files"]) {
        if (file["status"] == "done") CHECK(file["audio_s"].get<double>() > 0.5);
        if (file["status"] == "failed") CHECK(file["error"].get<std::string>().size() > 10);
    }
    fs::remove_all(dir);
}

TEST_CASE("batch: a rerun skips finished files, --force redoes them", "[integration][batch]") {
    const fs::path dir = scratch("resume");
    for (const char* name : {"one.wav", "two.wav", "deep/three.flac"}) write_tone(dir / "in" / name, 16000, 1, 0.5);
    const std::vector<std::string> command = {kExe, "batch", "transcribe", (dir / "in").string(), "--out",
                                              (dir / "out").string(), "--model", kTranscriber, "--lm", "none"};
    const auto first = run_process(command);
    INFO(first.out << first.err);
    REQUIRE(first.exit_code == 0);
    CHECK_THAT(first.out, Contains("3 done, 0 skipped"));
    const auto modified = fs::last_write_time(dir / "out" / "one.txt");

    const auto second = run_process(command);
    INFO(second.out << second.err);
    CHECK(second.exit_code == 0);
    CHECK_THAT(second.out, Contains("0 done, 3 skipped"));
    CHECK(fs::last_write_time(dir / "out" / "one.txt") == modified);

    auto forced_command = command;
    forced_command.push_back("--force");
    const auto forced = run_process(forced_command);
    INFO(forced.out << forced.err);
    CHECK(forced.exit_code == 0);
    CHECK_THAT(forced.out, Contains("3 done, 0 skipped"));
    CHECK(read_json(dir / "out" / "batch-report.json")["counts"]["done"] == 3);
    fs::remove_all(dir);
}

TEST_CASE("batch: --shard 0/2 and 1/2 split one job without overlap", "[integration][batch]") {
    const fs::path dir = scratch("shard");
    for (int i = 0; i < 7; ++i) write_tone(dir / "in" / (std::string("f") + std::to_string(i) + ".wav"), 16000, 1, 0.3);
    std::set<std::string> all;
    std::size_t total = 0;
    for (const char* shard : {"0/2", "1/2"}) {
        const auto r = run_process({kExe, "batch", "transcribe", (dir / "in").string(), "--out",
                                    (dir / "out").string(), "--model", kTranscriber, "--lm", "none",
                                    "--shard", shard});
        INFO(shard << ": " << r.out << r.err);
        CHECK(r.exit_code == 0);
        CHECK_THAT(r.out, Contains(std::string("shard ") + shard));
        const std::string index(1, shard[0]);
        const auto report = read_json(dir / "out" / (std::string("batch-report.shard-") + index + "-of-2.json"));
        CHECK(report["files_listed"] == 7);
        const auto done = with_status(report, "done");
        total += done.size();
        all.insert(done.begin(), done.end());
    }
    CHECK(total == 7);      // no file twice
    CHECK(all.size() == 7);  // every file once
    CHECK(files_with_extension(dir / "out", ".txt").size() == 7);
    fs::remove_all(dir);
}

TEST_CASE("batch: a manifest, JSON lines and subtitles", "[integration][batch]") {
    const fs::path dir = scratch("manifest");
    write_tone(dir / "audio" / "x.wav", 16000, 1, 0.8);
    write_tone(dir / "audio" / "y.wav", 44100, 2, 0.6);
    std::ofstream(dir / "list.txt") << "# two files\naudio/x.wav\n\naudio/y.wav\n";
    for (const char* format : {"jsonl", "srt"}) {
        const auto r = run_process({kExe, "batch", "transcribe", std::string("@") + (dir / "list.txt").string(), "--out",
                                    (dir / format).string(), "--format", format, "--model", kTranscriber,
                                    "--lm", "none"});
        INFO(r.out << r.err);
        REQUIRE(r.exit_code == 0);
        CHECK(fs::exists(dir / format / (std::string("x.") + format)));
        CHECK(fs::exists(dir / format / (std::string("y.") + format)));
    }
    std::ifstream in(dir / "jsonl" / "y.jsonl");
    std::string line;
    REQUIRE(std::getline(in, line));
    const auto json = nlohmann::json::parse(line);
    CHECK(json["file"] == (dir / "audio" / "y.wav").string());
    CHECK(json["audio_s"].get<double>() == Approx(0.6));
    fs::remove_all(dir);
}

TEST_CASE("batch: usage errors exit 2 before any work", "[integration][batch]") {
    const fs::path dir = scratch("usage");
    write_tone(dir / "in" / "a.wav", 16000, 1, 0.3);
    const auto no_out = run_process({kExe, "batch", "transcribe", (dir / "in").string()});
    CHECK(no_out.exit_code == 2);
    CHECK_THAT(no_out.err, Contains("--out"));
    const auto missing = run_process({kExe, "batch", "transcribe", (dir / "nope").string(), "--out",
                                      (dir / "out").string(), "--model", kTranscriber});
    CHECK(missing.exit_code == 2);
    CHECK_THAT(missing.err, Contains("nope") && Contains("no such file or folder"));
    const auto bad_shard = run_process({kExe, "batch", "transcribe", (dir / "in").string(), "--out",
                                        (dir / "out").string(), "--model", kTranscriber, "--shard", "2/2"});
    CHECK(bad_shard.exit_code == 2);
    CHECK_THAT(bad_shard.err, Contains("--shard '2/2'"));
    const auto wrong_model = run_process({kExe, "batch", "enhance", (dir / "in").string(), "--out",
                                          (dir / "out").string(), "--model", kTranscriber});
    CHECK(wrong_model.exit_code == 2);
    CHECK_THAT(wrong_model.err, Contains("not an enhancer"));
    CHECK_FALSE(fs::exists(dir / "out" / "a.wav"));
    fs::remove_all(dir);
}

TEST_CASE("batch: Ctrl-C mid-batch leaves only complete outputs and exits 130; the rerun does the rest",
          "[integration][batch]") {
    const fs::path dir = scratch("interrupt");
    constexpr int kFiles = 60;
    constexpr double kSeconds = 2.0;
    for (int i = 0; i < kFiles; ++i) {
        write_tone(dir / "in" / (std::string("take") + std::to_string(100 + i) + ".wav"), 48000, 1, kSeconds, 150.0 + i);
    }
    const std::vector<std::string> command = {kExe, "batch", "enhance", (dir / "in").string(), "--out",
                                              (dir / "out").string(), "--model", kEnhancer, "--jobs", "1"};
    auto started = start_process(command);
    // Interrupt as soon as the first output is complete: the other 59 still take a second or more.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (files_with_extension(dir / "out", ".wav").empty() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ::kill(started.pid, SIGINT);
    const auto stopped = finish_process(started, 60000);
    INFO(stopped.out << stopped.err);
    REQUIRE(stopped.exit_code == 130);
    CHECK_THAT(stopped.out, Contains("interrupted: ") && Contains("run the same command again to resume"));
    CHECK(files_with_extension(dir / "out", ".partial").empty());
    const auto outputs = files_with_extension(dir / "out", ".wav");
    CHECK(outputs.size() >= 1);
    CHECK(outputs.size() < static_cast<std::size_t>(kFiles));
    for (const auto& output : outputs) {  // complete, or not there at all
        INFO(output);
        CHECK(frames_of(output) == static_cast<sf_count_t>(kSeconds * 48000));
    }
    const auto report = read_json(dir / "out" / "batch-report.json");
    CHECK(report["interrupted"] == true);
    CHECK(report["counts"]["done"] == outputs.size());
    CHECK(report["counts"]["not_started"].get<std::size_t>() + report["counts"]["interrupted"].get<std::size_t>() ==
          kFiles - outputs.size());

    const auto rerun = run_process(command);
    INFO(rerun.out << rerun.err);
    CHECK(rerun.exit_code == 0);
    CHECK_THAT(rerun.out, Contains(std::to_string(kFiles - outputs.size()) + " done, " +
                                   std::to_string(outputs.size()) + " skipped"));
    const auto all = files_with_extension(dir / "out", ".wav");
    CHECK(all.size() == static_cast<std::size_t>(kFiles));
    for (const auto& output : all) CHECK(frames_of(output) == static_cast<sf_count_t>(kSeconds * 48000));
    fs::remove_all(dir);
}
