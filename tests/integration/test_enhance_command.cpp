// `statestream enhance` on files: the output keeps rate, channels and length and is aligned
// with the input (strength 0 gives the input back), the shipped model takes noise down, bad
// input (NaN, a model that is not an enhancer, an output type it cannot write) exits 2 naming
// the problem, and --measure-latency reports the impulse-measured 10 ms.

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <sndfile.h>

#include "tests/support/run_process.hpp"

using Catch::Matchers::Contains;
using statestream::test::run_process;

namespace {

const std::string kExe = STATESTREAM_EXE;
const std::filesystem::path kModels = std::filesystem::path(STATESTREAM_DATA_DIR) / "models";

struct Audio {
    int rate = 0;
    int channels = 0;
    std::vector<float> interleaved;
    [[nodiscard]] std::size_t frames() const { return interleaved.size() / channels; }
};

std::filesystem::path scratch_dir(const std::string& name) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("statestream-enhance-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

void write_audio(const std::filesystem::path& path, const Audio& audio, int format) {
    SF_INFO info{};
    info.samplerate = audio.rate;
    info.channels = audio.channels;
    info.format = format;
    SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
    REQUIRE(file != nullptr);
    const auto frames = static_cast<sf_count_t>(audio.frames());
    REQUIRE(sf_writef_float(file, audio.interleaved.data(), frames) == frames);
    sf_close(file);
}

Audio read_audio(const std::filesystem::path& path) {
    SF_INFO info{};
    SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
    REQUIRE(file != nullptr);
    Audio audio{info.samplerate, info.channels,
                std::vector<float>(static_cast<std::size_t>(info.frames * info.channels))};
    sf_readf_float(file, audio.interleaved.data(), info.frames);
    sf_close(file);
    return audio;
}

double rms(const std::vector<float>& samples, std::size_t from) {
    double sum = 0.0;
    for (std::size_t i = from; i < samples.size(); ++i) sum += static_cast<double>(samples[i]) * samples[i];
    return std::sqrt(sum / static_cast<double>(samples.size() - from));
}

}  // namespace

TEST_CASE("enhance: a stereo 44.1 kHz file at strength 0 comes back whole, aligned and equal",
          "[integration][enhance]") {
    const auto dir = scratch_dir("aligned");
    Audio in{44100, 2, {}};
    const std::size_t frames = 44100 + 1234;  // not a whole number of blocks
    for (std::size_t i = 0; i < frames; ++i) {
        const double t = static_cast<double>(i) / in.rate;
        in.interleaved.push_back(static_cast<float>(0.4 * std::sin(2.0 * M_PI * 150.0 * t)));
        in.interleaved.push_back(static_cast<float>(0.3 * std::sin(2.0 * M_PI * 230.0 * t + 1.0)));
    }
    write_audio(dir / "in.wav", in, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    const auto r = run_process({kExe, "enhance", (dir / "in.wav").string(),
                                (dir / "out.flac").string(), "--strength", "0", "--json"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto report = nlohmann::json::parse(r.out);
    CHECK(report["channels"] == 2);
    CHECK(report["frames"] == frames);
    const Audio out = read_audio(dir / "out.flac");
    CHECK(out.rate == 44100);
    CHECK(out.channels == 2);
    REQUIRE(out.frames() == frames);
    // Away from the edges (the resamplers' filters start from silence), each channel is its
    // input: misaligned by one sample, the 230 Hz channel would be off by 0.01.
    const Audio back = read_audio(dir / "in.wav");  // the 16-bit input as read
    double worst = 0.0;
    for (std::size_t i = 2 * 4410; i < 2 * (frames - 4410); ++i) {
        worst = std::max(worst, static_cast<double>(std::abs(out.interleaved[i] - back.interleaved[i])));
    }
    CHECK(worst < 2e-3);
    std::filesystem::remove_all(dir);
}

TEST_CASE("enhance: the shipped model takes white noise at 16 kHz down by more than 10 dB",
          "[integration][enhance]") {
    const auto dir = scratch_dir("noise");
    Audio in{16000, 1, std::vector<float>(3 * 16000)};
    std::mt19937 generator(5);
    std::normal_distribution<float> normal(0.0f, 0.05f);
    for (float& x : in.interleaved) x = normal(generator);
    write_audio(dir / "noise.wav", in, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
    const auto r = run_process({kExe, "enhance", (dir / "noise.wav").string(),
                                (dir / "quiet.wav").string()});
    INFO(r.err << r.out);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Contains("aligned with the input"));
    const Audio out = read_audio(dir / "quiet.wav");
    REQUIRE(out.frames() == in.frames());
    const double reduction_db = 20.0 * std::log10(rms(out.interleaved, 16000) / rms(in.interleaved, 16000));
    INFO("noise reduced by " << -reduction_db << " dB");
    CHECK(reduction_db < -10.0);
    std::filesystem::remove_all(dir);
}

TEST_CASE("enhance: a NaN in the input exits 2 naming the sample, keeping the output so far",
          "[integration][enhance]") {
    const auto dir = scratch_dir("nan");
    Audio in{48000, 1, std::vector<float>(48000, 0.01f)};
    in.interleaved[30000] = std::numeric_limits<float>::quiet_NaN();
    write_audio(dir / "bad.wav", in, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
    const auto r = run_process({kExe, "enhance", (dir / "bad.wav").string(),
                                (dir / "out.wav").string()});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("sample 30000 of channel 1 is NaN"));
    CHECK(!std::filesystem::exists(dir / "out.wav"));
    REQUIRE(std::filesystem::exists(dir / "out.wav.partial"));
    CHECK(read_audio(dir / "out.wav.partial").frames() > 20000);
    std::filesystem::remove_all(dir);
}

TEST_CASE("enhance: models and outputs it cannot use are refused by name", "[integration][enhance]") {
    const auto dir = scratch_dir("refuse");
    Audio in{48000, 1, std::vector<float>(4800, 0.01f)};
    write_audio(dir / "in.wav", in, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
    const auto wrong_model = run_process({kExe, "enhance", (dir / "in.wav").string(),
                                          (dir / "out.wav").string(), "--model",
                                          (kModels / "tiny_mamba2.safetensors").string()});
    CHECK(wrong_model.exit_code == 2);
    CHECK_THAT(wrong_model.err, Contains("tiny_mamba2.safetensors") && Contains("not an enhancer"));
    const auto wrong_type = run_process({kExe, "enhance", (dir / "in.wav").string(),
                                         (dir / "out.mp3").string()});
    CHECK(wrong_type.exit_code == 2);
    CHECK_THAT(wrong_type.err, Contains("writes .wav or .flac"));
    const auto nothing = run_process({kExe, "enhance"});
    CHECK(nothing.exit_code == 2);
    CHECK_THAT(nothing.err, Contains("give IN OUT"));
    const auto too_strong = run_process({kExe, "enhance", (dir / "in.wav").string(),
                                         (dir / "out.wav").string(), "--strength", "2"});
    CHECK(too_strong.exit_code == 2);
    std::filesystem::remove_all(dir);
}

TEST_CASE("enhance --measure-latency: an impulse comes out 10 ms later at 48 kHz",
          "[integration][enhance]") {
    const auto r = run_process({kExe, "enhance", "--measure-latency", "--json"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto doc = nlohmann::json::parse(r.out);
    CHECK(doc["measured_samples"] == 480);
    CHECK(doc["measured_ms"].get<double>() == Approx(10.0));
}
