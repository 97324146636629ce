// The bad-input matrix (docs/hardening.md): for each kind of input users send that they did not
// make - cut or corrupt audio, odd shapes and rates, non-finite samples, garbage ticks, hostile
// model files, another model's state, a disk that fills, a device that vanishes, an xrun storm -
// the real `statestream` binary either does the work or stops with one clear error, the exit
// code of docs/cli.md, and what it produced before the problem still there and readable.
// Cases already proven elsewhere (named in docs/hardening.md) are not repeated here.
//
// The JACK cases run a real jackd (dummy driver) in real time, so they are built only in the
// release tree (STATESTREAM_BAD_INPUT_JACK), like tests/engine/test_*_jack.cpp.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>
#include <sndfile.h>

#include "tests/support/editable_model.hpp"
#include "tests/support/run_process.hpp"
#include "tests/support/scratch_dir.hpp"

#if STATESTREAM_BAD_INPUT_JACK
#include "tests/support/jack_loopback_client.hpp"
#include "tests/support/jack_server.hpp"
#endif

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using statestream::test::ProcessResult;

namespace {

const std::string kExe = STATESTREAM_EXE;
const fs::path kData = STATESTREAM_DATA_DIR;
const std::string kPassThrough = (kData / "pipelines" / "pass_through.json").string();      // 48 kHz
const std::string kSpeechFeatures = (kData / "pipelines" / "speech_features.json").string();  // model
const std::string kForecastModel = (kData / "fixtures" / "forecast_fixture.safetensors").string();
const std::string kShippedForecaster = (kData / "models" / "forecaster.safetensors").string();
const fs::path kTinyModel = kData / "models" / "tiny_mamba2.safetensors";

fs::path scratch(const std::string& name) { return statestream::test::fresh_scratch_dir("bad-input", name); }

ProcessResult run(std::vector<std::string> args) {
    args.insert(args.begin(), kExe);
    return statestream::test::run_process(args);
}

// Seeded noise at -26 dBFS RMS, as speech-level input.
std::vector<float> noise(std::size_t samples, std::uint32_t seed) {
    std::mt19937 generator(seed);
    std::normal_distribution<float> normal(0.0f, 0.05f);
    std::vector<float> out(samples);
    for (float& x : out) x = normal(generator);
    return out;
}

void write_audio(const fs::path& path, int rate, int channels, const std::vector<float>& interleaved,
                 int format) {
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
    REQUIRE(file != nullptr);
    const auto frames = static_cast<sf_count_t>(interleaved.size() / static_cast<std::size_t>(channels));
    REQUIRE(sf_writef_float(file, interleaved.data(), frames) == frames);
    sf_close(file);
}
void write_float_wav(const fs::path& path, int rate, int channels, const std::vector<float>& interleaved) {
    write_audio(path, rate, channels, interleaved, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
}

struct Audio {
    bool readable = false;
    int rate = 0;
    int channels = 0;
    std::vector<float> interleaved;
    [[nodiscard]] std::size_t frames() const { return channels == 0 ? 0 : interleaved.size() / static_cast<std::size_t>(channels); }
    [[nodiscard]] bool finite() const {
        return std::all_of(interleaved.begin(), interleaved.end(), [](float x) { return std::isfinite(x); });
    }
};

// What a user would get opening the file: readable or not, and its samples.
Audio read_audio(const fs::path& path) {
    SF_INFO info{};
    SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
    Audio audio;
    if (file == nullptr) return audio;
    audio.readable = true;
    audio.rate = info.samplerate;
    audio.channels = info.channels;
    audio.interleaved.resize(static_cast<std::size_t>(info.frames * info.channels));
    const sf_count_t got = sf_readf_float(file, audio.interleaved.data(), info.frames);
    audio.interleaved.resize(static_cast<std::size_t>(std::max<sf_count_t>(got, 0) * info.channels));
    sf_close(file);
    return audio;
}

std::vector<std::byte> file_bytes(const fs::path& path) { return statestream::test::read_file_bytes(path); }

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// A CSV of vectors (`run ... -o X.csv`): its data rows, each checked for NaN.
struct CsvRows {
    std::size_t rows = 0;
    std::size_t rows_with_nan = 0;
};
CsvRows read_csv(const fs::path& path) {
    std::ifstream in(path);
    CsvRows csv;
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
        ++csv.rows;
        if (line.find("nan") != std::string::npos) ++csv.rows_with_nan;
    }
    return csv;
}

// Ticks of streams a and b, one a second, as `forecast` reads them.
std::vector<std::string> good_ticks(int seconds) {
    std::vector<std::string> lines;
    for (int t = 1; t <= seconds; ++t) {
        lines.push_back("a," + std::to_string(t) + ".0," + std::to_string(100 + t % 7));
        lines.push_back("b," + std::to_string(t) + ".0," + std::to_string(50 + t % 3));
    }
    return lines;
}
void write_lines(const fs::path& path, const std::vector<std::string>& lines) {
    std::ofstream out(path);
    for (const auto& line : lines) out << line << '\n';
}

}  // namespace

// ---- audio files -----------------------------------------------------------------------------

TEST_CASE("bad input: a WAV cut short of its header's length is refused by name; enhance and run "
          "keep the output so far", "[integration][bad_input]") {
    const auto dir = scratch("cut-wav");
    write_audio(dir / "whole.wav", 48000, 1, noise(96000, 1), SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    fs::copy_file(dir / "whole.wav", dir / "cut.wav");
    fs::resize_file(dir / "cut.wav", fs::file_size(dir / "whole.wav") / 2 + 1);  // mid-block, odd byte

    const auto enhance = run({"enhance", (dir / "cut.wav").string(), (dir / "out.wav").string()});
    INFO(enhance.err);
    CHECK(enhance.exit_code == 2);
    CHECK_THAT(enhance.err, Contains("cut.wav': is truncated: its header declares 96000 frames"));
    CHECK_THAT(enhance.err, Contains("the output up to this point is kept in"));
    CHECK_FALSE(fs::exists(dir / "out.wav"));  // never passed off as a finished file
    const Audio kept = read_audio(dir / "out.wav.partial");
    CHECK(kept.readable);
    CHECK(kept.frames() > 40000);  // about 1 s before the cut, less one block and the chain delay
    CHECK(kept.finite());

    const auto piped = run({"run", kPassThrough, "-i", (dir / "cut.wav").string(), "-o", (dir / "run.wav").string()});
    INFO(piped.err);
    CHECK(piped.exit_code == 2);
    CHECK_THAT(piped.err, Contains("statestream run: ") && Contains("is truncated") &&
                              Contains("the output up to this point is kept"));
    const Audio run_kept = read_audio(dir / "run.wav");
    CHECK(run_kept.frames() > 40000);

    const auto transcribe = run({"transcribe", (dir / "cut.wav").string(), "--lm", "none"});
    CHECK(transcribe.exit_code == 2);
    CHECK_THAT(transcribe.err, Contains("is truncated"));
    fs::remove_all(dir);
}

TEST_CASE("bad input: a WAV with a corrupt header is refused before any output exists",
          "[integration][bad_input]") {
    const auto dir = scratch("corrupt-wav");
    write_audio(dir / "in.wav", 48000, 1, noise(4800, 2), SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    auto bytes = file_bytes(dir / "in.wav");
    std::mt19937 generator(5);
    for (std::size_t i = 20; i < 36; ++i) bytes[i] = static_cast<std::byte>(generator());  // the fmt chunk
    statestream::test::write_file_bytes(dir / "in.wav", bytes);

    for (const auto& command : std::vector<std::vector<std::string>>{
             {"enhance", (dir / "in.wav").string(), (dir / "out.wav").string()},
             {"run", kPassThrough, "-i", (dir / "in.wav").string(), "-o", (dir / "out.wav").string()},
             {"transcribe", (dir / "in.wav").string(), "--lm", "none"}}) {
        const auto r = run(command);
        INFO(command[0] << ": " << r.err);
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.err, Contains("in.wav': cannot read it as audio"));
        CHECK_FALSE(fs::exists(dir / "out.wav"));
    }
    fs::remove_all(dir);
}

TEST_CASE("bad input: a FLAC cut short or corrupt mid-stream stops at the damage with the output so "
          "far kept", "[integration][bad_input]") {
    const auto dir = scratch("flac");
    write_audio(dir / "whole.flac", 48000, 1, noise(96000, 3), SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
    const auto whole = file_bytes(dir / "whole.flac");
    statestream::test::write_file_bytes(dir / "cut.flac", {whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(whole.size() / 2)});
    auto corrupt = whole;
    std::mt19937 generator(9);
    for (std::size_t i = whole.size() / 3; i < whole.size() / 3 + 2000; ++i) corrupt[i] = static_cast<std::byte>(generator());
    statestream::test::write_file_bytes(dir / "corrupt.flac", corrupt);

    for (const std::string name : {"cut", "corrupt"}) {
        const fs::path in = dir / (name + ".flac");
        const fs::path out = dir / (name + ".out.wav");
        const auto r = run({"enhance", in.string(), out.string()});
        INFO(name << ": " << r.err);
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.err, Contains(name + ".flac': read failed after") && Contains("flac decoder") &&
                              Contains("the output up to this point is kept in"));
        const Audio kept = read_audio(out.string() + ".partial");
        CHECK(kept.frames() > 20000);  // the damage is a third of the way into 2 s or later
        CHECK(kept.finite());

        const auto transcribe = run({"transcribe", in.string(), "--lm", "none"});
        CHECK(transcribe.exit_code == 2);
        CHECK_THAT(transcribe.err, Contains("read failed after"));
    }
    fs::remove_all(dir);
}

TEST_CASE("bad input: a zero-length file is named as empty by every command", "[integration][bad_input]") {
    const auto dir = scratch("empty");
    for (const std::string name : {"empty.wav", "empty.flac"}) {
        std::ofstream(dir / name).close();
        for (const auto& command : std::vector<std::vector<std::string>>{
                 {"enhance", (dir / name).string(), (dir / "out.wav").string()},
                 {"run", kPassThrough, "-i", (dir / name).string(), "-o", (dir / "out.wav").string()},
                 {"transcribe", (dir / name).string(), "--lm", "none"}}) {
            const auto r = run(command);
            INFO(command[0] << " " << name << ": " << r.err);
            CHECK(r.exit_code == 2);
            CHECK_THAT(r.err, Contains(name + "': is empty (0 bytes)"));
            CHECK_FALSE(fs::exists(dir / "out.wav"));
        }
    }
    fs::remove_all(dir);
}

TEST_CASE("bad input: a sample rate a command cannot take exits 2 and says what it takes; other "
          "files of the same run are still done", "[integration][bad_input]") {
    const auto dir = scratch("rate");
    write_float_wav(dir / "16k.wav", 16000, 1, noise(16000, 4));
    write_float_wav(dir / "1hz.wav", 1, 1, noise(10, 4));
    write_float_wav(dir / "384k.wav", 384000, 1, noise(38400, 4));

    const auto pipeline = run({"run", kPassThrough, "-i", (dir / "16k.wav").string(), "-o", (dir / "out.wav").string()});
    CHECK(pipeline.exit_code == 2);
    CHECK_THAT(pipeline.err, Contains("the file is 16000 Hz; the pipeline takes 48000 Hz"));
    CHECK_FALSE(fs::exists(dir / "out.wav"));
    for (const std::string name : {"1hz.wav", "384k.wav"}) {
        const auto enhance = run({"enhance", (dir / name).string(), (dir / "out.wav").string()});
        INFO(enhance.err);
        CHECK(enhance.exit_code == 2);
        CHECK_THAT(enhance.err, Contains(name + "': ") && Contains("Hz is outside the 8000..192000 Hz the enhancer takes"));
        CHECK_FALSE(fs::exists(dir / "out.wav"));
    }
    // The recogniser resamples anything from 1 kHz to 768 kHz; 1 Hz fails that file alone.
    const auto transcribe = run({"transcribe", (dir / "1hz.wav").string(), (dir / "16k.wav").string(), "--lm", "none"});
    INFO(transcribe.err);
    CHECK(transcribe.exit_code == 3);
    CHECK_THAT(transcribe.err, Contains("1hz.wav': resampler: input_rate_hz is 1 Hz") && Contains("resample the file"));
    CHECK_THAT(transcribe.out, Contains("16k.wav\t"));
    fs::remove_all(dir);
}

TEST_CASE("bad input: a 1-sample file is processed whole", "[integration][bad_input]") {
    const auto dir = scratch("one-sample");
    write_float_wav(dir / "one.wav", 48000, 1, {0.5f});

    const auto enhance = run({"enhance", (dir / "one.wav").string(), (dir / "out.wav").string()});
    INFO(enhance.err);
    REQUIRE(enhance.exit_code == 0);
    const Audio out = read_audio(dir / "out.wav");
    CHECK(out.frames() == 1);  // same length out as in
    CHECK(out.finite());

    const auto piped = run({"run", kPassThrough, "-i", (dir / "one.wav").string(), "-o", (dir / "run.wav").string()});
    INFO(piped.err);
    CHECK(piped.exit_code == 0);
    CHECK(read_audio(dir / "run.wav").interleaved == std::vector<float>{0.5f});  // 0 dB gain: exact

    const auto transcribe = run({"transcribe", (dir / "one.wav").string(), "--lm", "none"});
    CHECK(transcribe.exit_code == 0);
    CHECK_THAT(transcribe.err, Contains("one.wav: 0.00 s of audio"));
    fs::remove_all(dir);
}

TEST_CASE("bad input: an 8-channel file: enhance keeps 8 channels, run and transcribe mix to mono",
          "[integration][bad_input]") {
    const auto dir = scratch("eight");
    write_float_wav(dir / "eight.wav", 48000, 8, noise(8 * 24000, 6));

    const auto enhance = run({"enhance", (dir / "eight.wav").string(), (dir / "out.flac").string()});
    INFO(enhance.err);
    REQUIRE(enhance.exit_code == 0);
    const Audio out = read_audio(dir / "out.flac");
    CHECK(out.channels == 8);
    CHECK(out.frames() == 24000);
    CHECK(out.finite());

    const auto piped = run({"run", kPassThrough, "-i", (dir / "eight.wav").string(), "-o", (dir / "run.wav").string()});
    CHECK(piped.exit_code == 0);
    CHECK_THAT(piped.err, Contains("8 channel(s), mixed to mono"));
    CHECK(read_audio(dir / "run.wav").frames() == 24000);

    const auto transcribe = run({"transcribe", (dir / "eight.wav").string(), "--lm", "none"});
    CHECK(transcribe.exit_code == 0);
    CHECK_THAT(transcribe.err, Contains("eight.wav: 0.50 s of audio"));
    fs::remove_all(dir);
}

TEST_CASE("bad input: a NaN or infinite sample stops each command at that sample, naming it; the "
          "output before it is kept and finite", "[integration][bad_input]") {
    const auto dir = scratch("non-finite");
    const float kInf = std::numeric_limits<float>::infinity();
    for (const float bad : {std::numeric_limits<float>::quiet_NaN(), kInf, -kInf}) {
        const std::string what = std::isnan(bad) ? "NaN" : "infinite";
        auto samples = noise(48000, 7);
        samples[30000] = bad;
        write_float_wav(dir / "in.wav", 48000, 1, samples);
        INFO("sample 30000 = " << bad);

        const auto enhance = run({"enhance", (dir / "in.wav").string(), (dir / "out.wav").string()});
        CHECK(enhance.exit_code == 2);
        CHECK_THAT(enhance.err, Contains("sample 30000 of channel 1 is " + what));
        const Audio kept = read_audio(dir / "out.wav.partial");
        CHECK(kept.frames() > 20000);
        CHECK(kept.finite());

        // Through a model: one NaN pushed into it would make every later output NaN.
        const auto piped = run({"run", kSpeechFeatures, "-i", (dir / "in.wav").string(), "-o", (dir / "out.csv").string()});
        INFO(piped.err);
        CHECK(piped.exit_code == 2);
        CHECK_THAT(piped.err, Contains("in.wav': sample 30000 is " + what + "; fix or cut the input there") &&
                                  Contains("the output up to this point is kept"));
        const CsvRows csv = read_csv(dir / "out.csv");
        CHECK(csv.rows >= 50);  // 10 ms rows up to about 0.6 s
        CHECK(csv.rows_with_nan == 0);

        const auto transcribe = run({"transcribe", (dir / "in.wav").string(), "--lm", "none"});
        CHECK(transcribe.exit_code == 2);
        CHECK_THAT(transcribe.err, Contains("sample 30000 is " + what));
        fs::remove(dir / "out.wav.partial");
        fs::remove(dir / "out.csv");
    }
    fs::remove_all(dir);
}

TEST_CASE("bad input: denormal samples are ordinary input: every command succeeds with finite output",
          "[integration][bad_input]") {
    const auto dir = scratch("denormal");
    std::vector<float> samples = noise(48000, 8);
    for (float& x : samples) x *= 1e-38f / 0.05f;  // below FLT_MIN = 1.18e-38
    samples[100] = std::numeric_limits<float>::denorm_min();
    REQUIRE(std::fpclassify(samples[100]) == FP_SUBNORMAL);
    write_float_wav(dir / "in.wav", 48000, 1, samples);

    const auto enhance = run({"enhance", (dir / "in.wav").string(), (dir / "out.wav").string()});
    CHECK(enhance.exit_code == 0);
    const Audio out = read_audio(dir / "out.wav");
    CHECK(out.frames() == 48000);
    CHECK(out.finite());
    const auto piped = run({"run", kSpeechFeatures, "-i", (dir / "in.wav").string(), "-o", (dir / "out.csv").string()});
    CHECK(piped.exit_code == 0);
    const CsvRows csv = read_csv(dir / "out.csv");
    CHECK(csv.rows == 100);
    CHECK(csv.rows_with_nan == 0);
    CHECK(run({"transcribe", (dir / "in.wav").string(), "--lm", "none"}).exit_code == 0);
    fs::remove_all(dir);
}

// ---- ticks -----------------------------------------------------------------------------------

TEST_CASE("bad input: binary garbage and out-of-order ticks among good ones: each bad line named, "
          "every good tick forecast, exit 3", "[integration][bad_input]") {
    const auto dir = scratch("ticks");
    std::vector<std::string> lines = good_ticks(20);
    std::mt19937 generator(12);
    std::string garbage(300, '\0');
    for (char& c : garbage) c = static_cast<char>(generator() % 255 + 1);  // no newline
    std::replace(garbage.begin(), garbage.end(), '\n', 'x');
    lines.insert(lines.begin() + 10, garbage);                        // line 11
    lines.insert(lines.begin() + 15, std::string(5000, ','));         // line 16: columns
    lines.insert(lines.begin() + 20, "a,3.0,101");                    // line 21: a is at 10 s
    lines.insert(lines.begin() + 25, std::string("b,11.5,\0\x01", 9));  // line 26: value with a NUL
    write_lines(dir / "ticks.csv", lines);

    const auto r = run({"forecast", "--input", (dir / "ticks.csv").string(), "--model", kForecastModel});
    INFO(r.err);
    CHECK(r.exit_code == 3);
    const std::string file = (dir / "ticks.csv").string();
    for (const int line : {11, 16, 21, 26}) CHECK_THAT(r.err, Contains(file + ":" + std::to_string(line) + ":"));
    CHECK_THAT(r.err, Contains("goes back") && Contains("4 bad lines"));
    const auto out = lines_of(r.out);
    CHECK(out.size() == 1 + 40);  // the header, then one forecast per good tick
    fs::remove_all(dir);
}

// ---- model files -----------------------------------------------------------------------------

TEST_CASE("bad input: hostile model files exit 2 with one clear error, from info and from a command "
          "that runs the model", "[integration][bad_input]") {
    const auto dir = scratch("hostile-model");
    const auto tiny = statestream::test::EditableModel::from_bytes(file_bytes(kTinyModel));
    struct Hostile {
        std::string name;
        std::vector<std::byte> bytes;
        std::string expected;
    };
    std::vector<Hostile> cases;
    {
        auto bytes = tiny.bytes();
        const std::uint64_t huge = std::uint64_t{1} << 62;
        std::memcpy(bytes.data(), &huge, sizeof huge);
        cases.push_back({"huge_header", bytes, "declares a 4611686018427387904-byte header, over the"});
    }
    {
        auto model = tiny;
        model.header["input_proj.weight"]["shape"] = {std::uint64_t{1} << 31, std::uint64_t{1} << 31};
        cases.push_back({"huge_tensor", model.bytes(),
                         "tensor 'input_proj.weight' spans 256 bytes but shape [2147483648, 2147483648] of "
                         "F32 needs more than 2^64 bytes"});
    }
    {
        auto model = tiny;
        model.header["input_proj.weight"]["shape"] = {(std::uint64_t{1} << 62) + 16};  // * 4 wraps to 64
        cases.push_back({"wrapping_tensor", model.bytes(), "needs more than 2^64 bytes"});
    }
    {
        auto model = tiny;
        const auto weight = model.header["input_proj.weight"]["data_offsets"];
        const auto bias = model.header["input_proj.bias"]["data_offsets"];
        const std::uint64_t length = bias[1].get<std::uint64_t>() - bias[0].get<std::uint64_t>();
        model.header["input_proj.bias"]["data_offsets"] = {weight[0].get<std::uint64_t>(), weight[0].get<std::uint64_t>() + length};
        cases.push_back({"overlapping", model.bytes(), "overlap in the data section"});
    }
    {
        auto model = tiny;
        model.header["layers.0.norm.weight"]["dtype"] = "I32";
        cases.push_back({"dtype_i32", model.bytes(), "tensor 'layers.0.norm.weight' has dtype \"I32\", which statestream does not support"});
    }
    {
        auto model = tiny;
        model.header["layers.0.norm.weight"]["dtype"] = "F16";  // same bytes, half the size claimed
        cases.push_back({"dtype_f16", model.bytes(), "shape [8] of F16 needs 16"});
    }
    {
        auto model = tiny;
        auto architecture = model.metadata_document("architecture");
        architecture["d_model"] = 16;
        model.set_metadata_document("architecture", architecture);
        cases.push_back({"lie_d_model", model.bytes(), "has shape [8, 8], expected [16, 8]"});
    }
    {
        auto model = tiny;
        auto architecture = model.metadata_document("architecture");
        for (int i = 0; i < 40; ++i) architecture["layers"].push_back(architecture["layers"][0]);
        model.set_metadata_document("architecture", architecture);
        cases.push_back({"lie_layers", model.bytes(), "tensor 'layers.2.norm.weight' is missing"});
    }
    {
        auto bytes = tiny.bytes();
        bytes.resize(bytes.size() - 100);
        cases.push_back({"truncated", bytes, "the file is truncated"});
    }
    for (const auto& hostile : cases) {
        const fs::path path = dir / (hostile.name + ".safetensors");
        statestream::test::write_file_bytes(path, hostile.bytes);
        const auto info = run({"info", path.string()});
        INFO(hostile.name << ": " << info.err);
        CHECK(info.exit_code == 2);
        CHECK_THAT(info.err, Contains("statestream info: " + path.string() + ": ") && Contains(hostile.expected));
        CHECK(lines_of(info.err).size() == 1);  // one line, nothing half-printed on stdout
        CHECK(info.out.empty());
        const auto forecast = run({"forecast", "--input", "-", "--model", path.string()});
        CHECK(forecast.exit_code == 2);
        CHECK_THAT(forecast.err, Contains(hostile.expected));
    }
    fs::remove_all(dir);
}

TEST_CASE("bad input: forecast --state-dir with another model's snapshots refuses them by name, keeps "
          "them aside unchanged, forecasts from fresh state and exits 3", "[integration][bad_input]") {
    const auto dir = scratch("foreign-state");
    write_lines(dir / "ticks.csv", good_ticks(30));
    const auto first = run({"forecast", "--input", (dir / "ticks.csv").string(), "--model", kForecastModel,
                            "--state-dir", (dir / "state").string()});
    REQUIRE(first.exit_code == 0);
    const auto saved_a = file_bytes(dir / "state" / "a.state");

    const auto other = run({"forecast", "--input", (dir / "ticks.csv").string(), "--model", kShippedForecaster,
                            "--state-dir", (dir / "state").string()});
    INFO(other.err);
    CHECK(other.exit_code == 3);
    CHECK_THAT(other.err, Contains("a.state: was saved from model 'forecaster-fixture'") &&
                              Contains("this run's model is 'forecaster-mamba2-ticks-v1'") &&
                              Contains(".refused"));
    CHECK_THAT(other.err, Contains("0 restored (2 snapshots refused)"));
    CHECK(lines_of(other.out).size() == 1 + 60);  // every tick still forecast
    // Nothing lost: the first model's snapshot is byte for byte where the message says.
    REQUIRE(fs::exists(dir / "state" / "a.state.refused"));
    CHECK(file_bytes(dir / "state" / "a.state.refused") == saved_a);
    fs::remove_all(dir);
}

// ---- a disk that fills -----------------------------------------------------------------------

namespace {

// Runs `argv` in a new user and mount namespace (`unshare -rm`) with a tmpfs of `bytes` mounted on
// `mount_dir`; what the command left there is copied to `keep_dir` before the namespace (and the
// tmpfs) goes away. Exit 97: the tmpfs could not be mounted.
ProcessResult run_on_small_tmpfs(const fs::path& mount_dir, const fs::path& keep_dir, std::size_t bytes,
                                 const std::vector<std::string>& argv) {
    std::vector<std::string> command = {
        "/usr/bin/unshare", "-rm", "/bin/sh", "-c",
        "mount -t tmpfs -o size=" + std::to_string(bytes) + " statestream-full \"$1\" || exit 97; m=$1; k=$2; "
        "shift 2; \"$@\"; rc=$?; cp -a \"$m\"/. \"$k\"/; exit $rc",
        "sh", mount_dir.string(), keep_dir.string()};
    command.insert(command.end(), argv.begin(), argv.end());
    return statestream::test::run_process(command);
}

bool small_tmpfs_available(const fs::path& dir) {
    const auto probe = run_on_small_tmpfs(dir / "mnt", dir / "kept", 4096, {"/bin/true"});
    return probe.exit_code == 0;
}

// Runs `argv` with RLIMIT_FSIZE at `kib` KiB and SIGXFSZ ignored (the way a quota or a file-size
// limit stops writes: write() fails with EFBIG instead of the process being killed).
ProcessResult run_with_file_size_limit(std::size_t kib, const std::vector<std::string>& argv) {
    std::vector<std::string> command = {"/bin/bash", "-c", "trap '' XFSZ; ulimit -f " + std::to_string(kib) + "; exec \"$@\"", "bash"};
    command.insert(command.end(), argv.begin(), argv.end());
    return statestream::test::run_process(command);
}

}  // namespace

TEST_CASE("bad input: the disk fills while writing (a 64 KiB tmpfs in a user+mount namespace): exit 1 "
          "naming the device error, the output so far kept and readable", "[integration][bad_input][disk_full]") {
    const auto dir = scratch("disk-full");
    fs::create_directories(dir / "mnt");
    fs::create_directories(dir / "kept");
    if (!small_tmpfs_available(dir)) {
        WARN("SKIPPED: cannot mount a tmpfs in a user+mount namespace here (unshare -rm); the "
             "RLIMIT_FSIZE case below covers the same code paths");
        fs::remove_all(dir);
        return;
    }
    write_float_wav(dir / "in.wav", 48000, 1, noise(96000, 13));  // 384 KB as float WAV out
    write_lines(dir / "ticks.csv", good_ticks(200));                // about 400 lines of 700 bytes out
    const fs::path mnt = dir / "mnt";
    const fs::path kept = dir / "kept";

    SECTION("enhance") {
        const auto r = run_on_small_tmpfs(mnt, kept, 64 * 1024, {kExe, "enhance", (dir / "in.wav").string(), (mnt / "out.wav").string()});
        INFO(r.err);
        CHECK(r.exit_code == 1);
        CHECK_THAT(r.err, Contains("out.wav.partial': wrote ") && Contains("No space left on device") &&
                              Contains("the frames before are kept in that file"));
        const Audio partial = read_audio(kept / "out.wav.partial");
        CHECK(partial.readable);
        CHECK(partial.frames() > 10000);  // 64 KiB of float frames, less the header
        CHECK(partial.finite());
    }
    SECTION("run to a WAV file") {
        const auto r = run_on_small_tmpfs(mnt, kept, 64 * 1024, {kExe, "run", kPassThrough, "-i", (dir / "in.wav").string(), "-o", (mnt / "run.wav").string()});
        INFO(r.err);
        CHECK(r.exit_code == 1);
        CHECK_THAT(r.err, Contains("No space left on device"));
        Audio partial = read_audio(kept / "run.wav");
        if (!partial.readable) partial = read_audio(kept / "run.wav.partial");
        CHECK(partial.frames() > 10000);
        CHECK(partial.finite());
    }
    SECTION("forecast to a file") {
        const auto r = run_on_small_tmpfs(mnt, kept, 64 * 1024, {kExe, "forecast", "--input", (dir / "ticks.csv").string(), "--model", kForecastModel, "--output", (mnt / "f.csv").string()});
        INFO(r.err);
        CHECK(r.exit_code == 1);
        CHECK_THAT(r.err, Contains("f.csv: cannot write the output: No space left on device"));
        std::ifstream in(kept / "f.csv");
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        CHECK(text.size() > 32 * 1024);  // what fitted is there
        CHECK(text.rfind("stream_id,", 0) == 0);
    }
    fs::remove_all(dir);
}

TEST_CASE("bad input: a file-size limit hit while writing (RLIMIT_FSIZE, the fallback where no "
          "tmpfs can be mounted): exit 1, the output so far kept", "[integration][bad_input][disk_full]") {
    const auto dir = scratch("fsize");
    write_float_wav(dir / "in.wav", 48000, 1, noise(96000, 14));
    const auto r = run_with_file_size_limit(64, {kExe, "enhance", (dir / "in.wav").string(), (dir / "out.wav").string()});
    INFO(r.err);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.err, Contains("out.wav.partial': wrote ") && Contains("File too large"));
    const Audio partial = read_audio(dir / "out.wav.partial");
    CHECK(partial.frames() > 10000);
    CHECK(partial.finite());
    fs::remove_all(dir);
}

TEST_CASE("bad input: standard output on a full device (/dev/full): exit 1 instead of a silent loss",
          "[integration][bad_input][disk_full]") {
    const auto dir = scratch("dev-full");
    write_float_wav(dir / "in.wav", 16000, 1, noise(16000, 15));
    for (const auto& command : std::vector<std::vector<std::string>>{
             {"transcribe", (dir / "in.wav").string(), "--lm", "none"},
             {"info", kTinyModel.string()}}) {
        std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$@\" > /dev/full", "sh", kExe};
        argv.insert(argv.end(), command.begin(), command.end());
        const auto r = statestream::test::run_process(argv);
        INFO(command[0] << ": " << r.err);
        CHECK(r.exit_code == 1);
        CHECK_THAT(r.err, Contains("statestream " + command[0] + ": cannot write to standard output (No space left on device)"));
    }
    fs::remove_all(dir);
}

// ---- live devices (JACK dummy driver) --------------------------------------------------------

#if STATESTREAM_BAD_INPUT_JACK

namespace {

using statestream::test::JackLoopbackClient;
using statestream::test::JackServer;
using statestream::test::JackServerConfig;
using statestream::test::ScopedDefaultJackServer;

// Waits until PortAudio has registered statestream's ports on the server: the run is live.
bool wait_for_ports(const JackLoopbackClient& client, const std::string& pattern) {
    for (int attempt = 0; attempt < 200; ++attempt) {
        if (!client.ports(pattern).empty()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

}  // namespace

TEST_CASE("bad input: the JACK server killed under live enhance and live transcribe: exit 1 naming "
          "the lost device, statistics printed", "[integration][bad_input][jack]") {
    for (const std::string command : {"enhance", "transcribe"}) {
        JackServer server;
        const ScopedDefaultJackServer default_server(server.name());
        std::vector<std::string> argv = {kExe, command, "--input", "system", "--seconds", "60"};
        if (command == "enhance") argv.insert(argv.end(), {"--output", "system"});
        if (command == "transcribe") argv.insert(argv.end(), {"--lm", "none"});
        auto running = statestream::test::start_process(argv);
        {
            JackLoopbackClient watcher({server.name(), "ss_watcher", 48000});
            REQUIRE(wait_for_ports(watcher, "^statestream[^:]*:in_[0-9]+$"));
            std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        }
        server.kill_now();
        const auto r = statestream::test::finish_process(running, 20000);
        INFO(command << ": exit " << r.exit_code << "\nstdout:\n" << r.out << "\nstderr:\n" << r.err);
        CHECK(r.exit_code == 1);
        CHECK_THAT(r.err, Contains("ended: device_lost"));
        CHECK_THAT(r.err, Contains("statestream " + command + ": the audio device stopped"));
        CHECK_THAT(r.err, Contains("steps: steps "));
    }
}

TEST_CASE("bad input: an xrun storm (32-frame JACK periods and two busy threads): the live run "
          "survives to its time limit and reports the host's xrun flags", "[integration][bad_input][jack]") {
    JackServerConfig config;
    config.period_frames = 32;  // 0.67 ms at 48 kHz: well inside this VM's 1-7 ms stalls
    JackServer server(config);
    const ScopedDefaultJackServer default_server(server.name());
    JackLoopbackClient client({server.name(), "ss_xruns", 48000});

    std::atomic<bool> hogging{true};
    std::vector<std::thread> hogs;
    for (int i = 0; i < 2; ++i) {
        hogs.emplace_back([&hogging] {
            volatile std::uint64_t spins = 0;
            while (hogging.load(std::memory_order_relaxed)) spins = spins + 1;
        });
    }
    const auto r = statestream::test::run_process({kExe, "run", kPassThrough, "--input", "device:system",
                                                   "--output", "device:system", "--seconds", "3", "--stats"});
    hogging.store(false, std::memory_order_relaxed);
    for (auto& hog : hogs) hog.join();

    INFO("exit " << r.exit_code << "; our client saw " << client.xruns() << " xruns\nstdout:\n"
                 << r.out << "\nstderr:\n" << r.err);
    REQUIRE(client.xruns() > 0);  // the storm happened
    REQUIRE(r.exit_code == 0);
    const auto stats = nlohmann::json::parse(r.out);
    CHECK(stats["end"] == "time_limit");
    const std::uint64_t flagged = stats["audio"]["host_input_overflows"];
    CHECK(flagged > 0);
    CHECK(stats["worker"]["processed"].get<std::uint64_t>() > 100);  // it kept working through it
    std::printf("xrun storm: %llu xruns seen by our client, %llu callbacks flagged by statestream\n",
                static_cast<unsigned long long>(client.xruns()), static_cast<unsigned long long>(flagged));
}

#endif  // STATESTREAM_BAD_INPUT_JACK
