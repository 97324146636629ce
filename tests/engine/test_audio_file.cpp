// Audio files through libsndfile: round trips in WAV and FLAC, mixdown, and the clear errors
// for files that are missing, not audio, empty or truncated; partial outputs are kept.

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <vector>

#include "engine/io/audio_file.hpp"

using namespace statestream::engine;
using Catch::Matchers::Contains;

namespace {

struct TempDir {
    std::filesystem::path path;
    TempDir() : path(std::filesystem::temp_directory_path() / ("ss_audio_" + std::to_string(::getpid()))) {
        std::filesystem::create_directories(path);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

std::vector<float> tone(std::size_t frames, std::size_t channels) {
    std::vector<float> x(frames * channels);
    for (std::size_t i = 0; i < frames; ++i) {
        for (std::size_t c = 0; c < channels; ++c) {
            x[i * channels + c] = 0.5f * std::sin(0.01f * float(i) * float(c + 1));
        }
    }
    return x;
}

std::vector<float> read_all(AudioFileReader& reader) {
    std::vector<float> all;
    std::vector<float> block(333);
    while (const std::size_t n = reader.read_mono(block)) all.insert(all.end(), block.begin(), block.begin() + static_cast<std::ptrdiff_t>(n));
    return all;
}

}  // namespace

TEST_CASE("WAV and FLAC round trips, with stereo mixed down to mono", "[engine][audio_file]") {
    TempDir dir;
    for (const char* name : {"a.wav", "a.flac"}) {
        const auto path = dir.path / name;
        const auto stereo = tone(5000, 2);
        {
            AudioFileWriter writer(path, 48000, 2, audio_file_type_for(path));
            writer.write(stereo);
            writer.commit();
            CHECK(writer.frames_written() == 5000);
        }
        CHECK_FALSE(std::filesystem::exists(dir.path / (std::string(name) + ".partial")));
        AudioFileReader reader(path);
        CHECK(reader.format().rate_hz == 48000);
        CHECK(reader.format().channels == 2);
        const auto mono = read_all(reader);
        REQUIRE(mono.size() == 5000);
        double worst = 0.0;
        for (std::size_t i = 0; i < mono.size(); ++i) {
            worst = std::max(worst, std::abs(double(mono[i]) - 0.5 * (stereo[2 * i] + stereo[2 * i + 1])));
        }
        CAPTURE(name, worst);
        CHECK(worst < 1e-6);  // float WAV exact; 24-bit FLAC within 2^-23
    }
}

TEST_CASE("Bad audio files get one clear error each", "[engine][audio_file]") {
    TempDir dir;
    REQUIRE_THROWS_WITH(AudioFileReader(dir.path / "missing.wav"), Contains("missing.wav': no such file"));
    REQUIRE_THROWS_WITH(AudioFileReader(dir.path), Contains("is a directory"));
    const auto garbage = dir.path / "garbage.wav";
    std::ofstream(garbage) << "this is not a RIFF file at all, just text";
    REQUIRE_THROWS_WITH(AudioFileReader(garbage), Contains("garbage.wav': cannot read it as audio"));
    REQUIRE_THROWS_WITH(audio_file_type_for("out.mp3"), Contains("writes .wav or .flac, not '.mp3'"));

    const auto empty = dir.path / "empty.wav";
    {
        AudioFileWriter writer(empty, 16000, 1, AudioFileType::kWav);
        writer.commit();
    }
    REQUIRE_THROWS_WITH(AudioFileReader(empty), Contains("holds no audio"));

    // Cut a WAV's data short while its header still declares the full length.
    const auto whole = dir.path / "whole.wav";
    {
        AudioFileWriter writer(whole, 16000, 1, AudioFileType::kWav);
        writer.write(tone(4000, 1));
        writer.commit();
    }
    const auto size = std::filesystem::file_size(whole);
    std::filesystem::resize_file(whole, size - 4 * 1000);
    AudioFileReader reader(whole);
    std::vector<float> block(500);
    std::size_t got = 0;
    bool threw = false;
    try {
        while (const std::size_t n = reader.read_mono(block)) got += n;
    } catch (const AudioFileError& error) {
        threw = true;
        CHECK_THAT(error.what(), Contains("is truncated") && Contains("declares 4000 frames"));
    }
    CHECK(threw);
    CHECK(got == 3000);  // everything before the cut was delivered
}

TEST_CASE("A writer that is not committed keeps what it wrote under .partial", "[engine][audio_file]") {
    TempDir dir;
    const auto path = dir.path / "out.wav";
    {
        AudioFileWriter writer(path, 16000, 1, AudioFileType::kWav);
        writer.write(tone(1600, 1));
    }  // no commit: as after an error
    CHECK_FALSE(std::filesystem::exists(path));
    REQUIRE(std::filesystem::exists(dir.path / "out.wav.partial"));
    AudioFileReader partial(dir.path / "out.wav.partial");
    CHECK(read_all(partial).size() == 1600);
}
