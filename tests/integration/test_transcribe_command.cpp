// `statestream transcribe` on files with the golden fixture's small random transcriber (its
// words are nonsense; the command's contract is what is tested): formats, several files, a
// corrupt file among good ones (exit 3), and models that are not transcribers (exit 2).

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
using statestream::test::run_process;

namespace {

const std::string kExe = STATESTREAM_EXE;
const std::filesystem::path kFixtures = std::filesystem::path(STATESTREAM_DATA_DIR) / "fixtures";
const std::string kModel = (kFixtures / "transcriber_fixture.safetensors").string();

std::filesystem::path scratch_dir() {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("statestream-transcribe-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

// A stereo tone burst: anything the front-end and model can chew on.
void write_tone(const std::filesystem::path& path, int rate) {
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = 2;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
    REQUIRE(file != nullptr);
    std::vector<float> frames;
    for (int i = 0; i < rate; ++i) {
        const float x = static_cast<float>(0.3 * std::sin(2.0 * M_PI * 220.0 * i / rate) *
                                           (0.5 - 0.5 * std::cos(2.0 * M_PI * 4.0 * i / rate)));
        frames.push_back(x);
        frames.push_back(0.5f * x);
    }
    sf_writef_float(file, frames.data(), rate);
    sf_close(file);
}

}  // namespace

TEST_CASE("transcribe: a 44.1 kHz stereo file as JSON lines, one final object with word times",
          "[integration][transcribe]") {
    const auto dir = scratch_dir();
    write_tone(dir / "tone.wav", 44100);
    const auto r = run_process({kExe, "transcribe", (dir / "tone.wav").string(), "--model", kModel,
                                "--format", "jsonl"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto line = nlohmann::json::parse(r.out);
    CHECK(line["type"] == "final");
    CHECK(line["final"] == true);
    CHECK(line["audio_s"].get<double>() == Approx(1.0));
    CHECK(line["text"].is_string());
    for (const auto& word : line["words"]) CHECK(word["end"].get<double>() >= word["start"].get<double>());
    CHECK_THAT(r.err, Contains("RTF"));
    std::filesystem::remove_all(dir);
}

TEST_CASE("transcribe: subtitles, several files, a corrupt file among good ones",
          "[integration][transcribe]") {
    const auto dir = scratch_dir();
    write_tone(dir / "a.wav", 16000);
    write_tone(dir / "b.wav", 48000);
    std::ofstream(dir / "broken.wav") << "RIFF this is not audio";

    const auto srt = run_process({kExe, "transcribe", (dir / "a.wav").string(), "--model", kModel,
                                  "--format", "vtt"});
    REQUIRE(srt.exit_code == 0);
    CHECK(srt.out.rfind("WEBVTT", 0) == 0);

    const auto two_subtitles = run_process({kExe, "transcribe", (dir / "a.wav").string(),
                                            (dir / "b.wav").string(), "--model", kModel, "--format", "srt"});
    CHECK(two_subtitles.exit_code == 2);

    const auto mixed = run_process({kExe, "transcribe", (dir / "a.wav").string(),
                                    (dir / "broken.wav").string(), (dir / "b.wav").string(),
                                    "--model", kModel});
    CHECK(mixed.exit_code == 3);
    CHECK_THAT(mixed.err, Contains("broken.wav"));
    CHECK_THAT(mixed.out, Contains("a.wav\t"));
    CHECK_THAT(mixed.out, Contains("b.wav\t"));
    std::filesystem::remove_all(dir);
}

TEST_CASE("transcribe: a model that is not a transcriber exits 2 naming it", "[integration][transcribe]") {
    const auto dir = scratch_dir();
    write_tone(dir / "a.wav", 16000);
    const auto r = run_process({kExe, "transcribe", (dir / "a.wav").string(), "--model",
                                (kFixtures / "enhancer_fixture.safetensors").string()});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Contains("not a transcriber"));
    std::filesystem::remove_all(dir);
}

TEST_CASE("transcribe: --lm picks the decoder and the JSON line says which one ran",
          "[integration][transcribe]") {
    const auto dir = scratch_dir();
    write_tone(dir / "a.wav", 16000);
    const auto decode = [&](std::vector<std::string> extra) {
        std::vector<std::string> argv = {kExe, "transcribe", (dir / "a.wav").string(), "--model", kModel,
                                         "--format", "jsonl"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return run_process(argv);
    };
    const auto greedy = decode({"--lm", "none"});
    INFO(greedy.err);
    REQUIRE(greedy.exit_code == 0);
    CHECK(nlohmann::json::parse(greedy.out)["decoder"] == "greedy");
    CHECK_THAT(greedy.err, Contains("decoder: greedy"));

    const auto fixture_lm = (kFixtures / "ctc_beam_fixture.arpa").string();
    const auto beam = decode({"--lm", fixture_lm, "--beam", "8", "--lm-weight", "0.7", "--word-bonus", "1.5"});
    INFO(beam.err);
    REQUIRE(beam.exit_code == 0);
    CHECK(nlohmann::json::parse(beam.out)["decoder"] == "beam+lm");
    CHECK_THAT(beam.err, Contains("beam 8, LM weight 0.7, word bonus 1.5") && Contains("ctc_beam_fixture.arpa"));

    // No --lm: the shipped data/models/transcriber.lm.arpa, found as the model would be.
    const auto shipped = decode({});
    INFO(shipped.err);
    REQUIRE(shipped.exit_code == 0);
    CHECK(nlohmann::json::parse(shipped.out)["decoder"] == "beam+lm");
    CHECK_THAT(shipped.err, Contains("transcriber.lm.arpa"));
    std::filesystem::remove_all(dir);
}

TEST_CASE("transcribe: bad beam settings and a broken LM exit 2 and say what to fix",
          "[integration][transcribe]") {
    const auto dir = scratch_dir();
    write_tone(dir / "a.wav", 16000);
    const auto bad_beam = run_process({kExe, "transcribe", (dir / "a.wav").string(), "--model", kModel,
                                       "--beam", "0"});
    CHECK(bad_beam.exit_code == 2);
    CHECK_THAT(bad_beam.err, Contains("--beam 1..256"));
    const auto bad_weight = run_process({kExe, "transcribe", (dir / "a.wav").string(), "--model", kModel,
                                         "--lm-weight", "nan"});
    CHECK(bad_weight.exit_code == 2);
    CHECK_THAT(bad_weight.err, Contains("--lm-weight"));
    std::ofstream(dir / "broken.arpa") << "\\data\\\nngram 1=3\n\n\\1-grams:\n-1.0\t<s>\n";
    const auto broken = run_process({kExe, "transcribe", (dir / "a.wav").string(), "--model", kModel,
                                     "--lm", (dir / "broken.arpa").string()});
    CHECK(broken.exit_code == 2);
    CHECK_THAT(broken.err, Contains("broken.arpa") && Contains("truncated"));
    const auto missing = run_process({kExe, "transcribe", (dir / "a.wav").string(), "--model", kModel,
                                      "--lm", (dir / "missing.arpa").string()});
    CHECK(missing.exit_code == 2);
    CHECK_THAT(missing.err, Contains("missing.arpa") && Contains("cannot open"));
    const auto help = run_process({kExe, "transcribe", "--help"});
    CHECK_THAT(help.out, Contains("--lm") && Contains("--beam") && Contains("--lm-weight") &&
                             Contains("--word-bonus") && Contains("greedy"));
    std::filesystem::remove_all(dir);
}
