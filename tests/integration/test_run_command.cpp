// `statestream run` on files: end of input flushes everything (a pass-through copy is exact and
// of the same length), --stats prints the run's JSON, and a bad description or a file at the
// wrong rate exits 2 naming the problem.

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <sndfile.h>

#include "tests/support/run_process.hpp"

using Catch::Matchers::Contains;

namespace {

const std::string kExe = STATESTREAM_EXE;
const std::filesystem::path kPipelines = std::filesystem::path(STATESTREAM_DATA_DIR) / "pipelines";

std::filesystem::path scratch_dir(const std::string& name) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("statestream-run-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

void write_wav(const std::filesystem::path& path, const std::vector<float>& samples, int rate) {
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
    REQUIRE(file != nullptr);
    REQUIRE(sf_writef_float(file, samples.data(), static_cast<sf_count_t>(samples.size())) ==
            static_cast<sf_count_t>(samples.size()));
    sf_close(file);
}

std::vector<float> read_wav(const std::filesystem::path& path) {
    SF_INFO info{};
    SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
    REQUIRE(file != nullptr);
    std::vector<float> samples(static_cast<std::size_t>(info.frames));
    sf_readf_float(file, samples.data(), info.frames);
    sf_close(file);
    return samples;
}

std::vector<float> chirp(std::size_t frames) {
    std::vector<float> samples(frames);
    for (std::size_t i = 0; i < frames; ++i) {
        const double t = static_cast<double>(i) / 48000.0;
        samples[i] = static_cast<float>(0.5 * std::sin(2.0 * M_PI * (200.0 + 2000.0 * t) * t));
    }
    return samples;
}

}  // namespace

TEST_CASE("run: a file through the pass-through pipeline comes out exact and whole, with the "
          "statistics as JSON", "[integration][run]") {
    const auto dir = scratch_dir("copy");
    const auto input = chirp(48000 + 123);  // not a whole number of 480-sample blocks
    write_wav(dir / "in.wav", input, 48000);
    const auto r = statestream::test::run_process(
        {kExe, "run", (kPipelines / "pass_through.json").string(), "--input",
         (dir / "in.wav").string(), "--output", (dir / "out.wav").string(), "--stats"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto stats = nlohmann::json::parse(r.out);
    CHECK(stats["schema"] == "statestream.run/1");
    CHECK(stats["end"] == "end_of_input");
    CHECK(stats["worker"]["processed"] == 101);  // 100 full blocks and the padded last one
    CHECK(stats["worker"]["dropped"] == 0);
    CHECK(stats["worker"]["output_overruns"] == 0);
    CHECK(stats["steps"]["steps"] == 101);
    CHECK(stats["vectors_written"] == input.size());
    CHECK(read_wav(dir / "out.wav") == input);
    CHECK(!std::filesystem::exists(dir / "out.wav.partial"));
    std::filesystem::remove_all(dir);
}

TEST_CASE("run: speech features and the model's outputs go to CSV, one row per 10 ms",
          "[integration][run]") {
    const auto dir = scratch_dir("csv");
    write_wav(dir / "in.wav", chirp(48000), 48000);
    const auto r = statestream::test::run_process(
        {kExe, "run", (kPipelines / "speech_features.json").string(), "-i",
         (dir / "in.wav").string(), "-o", (dir / "out.csv").string()});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.err, Contains("ended: end_of_input") && Contains("steps: steps 100"));
    std::ifstream csv(dir / "out.csv");
    std::string line;
    std::getline(csv, line);
    CHECK(line == "time_s,v0,v1,v2,v3");
    std::size_t rows = 0;
    while (std::getline(csv, line)) ++rows;
    CHECK(rows == 100);
    std::filesystem::remove_all(dir);
}

TEST_CASE("run: a bad description, a file at the wrong rate and an audio file for vectors exit 2",
          "[integration][run]") {
    const auto dir = scratch_dir("bad");
    write_wav(dir / "in16k.wav", chirp(16000), 16000);
    write_wav(dir / "in.wav", chirp(4800), 48000);
    std::ofstream(dir / "bad.json") << R"({"schema": "statestream.pipeline/1", "input": {"rate_hz": 48000, "block": 480}, "stages": [{"type": "gain", "gain": 3}]})";

    const auto bad = statestream::test::run_process(
        {kExe, "run", (dir / "bad.json").string(), "-i", (dir / "in.wav").string(), "-o", "none"});
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.err, Contains("bad.json: /stages/0/gain: unknown key"));

    const auto rate = statestream::test::run_process(
        {kExe, "run", (kPipelines / "pass_through.json").string(), "-i",
         (dir / "in16k.wav").string(), "-o", "none"});
    CHECK(rate.exit_code == 2);
    CHECK_THAT(rate.err, Contains("in16k.wav: the file is 16000 Hz; the pipeline takes 48000 Hz"));

    const auto shape = statestream::test::run_process(
        {kExe, "run", (kPipelines / "speech_features.json").string(), "-i",
         (dir / "in.wav").string(), "-o", (dir / "out.wav").string()});
    CHECK(shape.exit_code == 2);
    CHECK_THAT(shape.err, Contains("4-dimensional vectors, not audio; write them to a .csv file"));
    std::filesystem::remove_all(dir);
}
