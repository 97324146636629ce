// libFuzzer target: arbitrary bytes as an audio file read through AudioFileReader
// (engine/io/audio_file.hpp): libsndfile's format detection and decoders, then the reader's own
// checks (channels, rate, empty files, truncation found from libsndfile's log). The reader only
// opens paths, so each input is written to one file in a scratch directory made once (in
// /dev/shm when there is one). Every input must open and read to its end, or be refused with
// an AudioFileError naming the file. A crash, a sanitizer report or any other exception is a
// bug. libsndfile itself is not instrumented: the fuzzer sees only our side of it for coverage.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "engine/io/audio_file.hpp"

using statestream::engine::AudioFileError;
using statestream::engine::AudioFileReader;

namespace {

// A small input can declare (and some decoders produce) many frames; reading stops here so one
// input stays fast. Well above what any seed holds.
constexpr std::uint64_t kMaxFramesRead = std::uint64_t{1} << 20;
constexpr std::size_t kBlockFrames = 256;

void require(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_audio_file: %s\n", what);
    std::abort();
}

struct Scratch {
    std::filesystem::path dir;
    std::filesystem::path path;
    std::vector<float> buffer;

    Scratch() {
        const char* base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
        std::string pattern = std::string(base) + "/statestream-fuzz-audio-XXXXXX";
        require(::mkdtemp(pattern.data()) != nullptr, "cannot create the scratch directory");
        dir = pattern;
        path = dir / "input";
    }
    ~Scratch() {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }
};

Scratch& scratch() {
    static Scratch s;
    return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Scratch& s = scratch();
    {
        std::ofstream out(s.path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
        out.close();
        require(out.good(), "cannot write the input file");
    }
    const std::string name = "'" + s.path.string() + "'";
    try {
        AudioFileReader reader(s.path);
        const auto& format = reader.format();
        require(format.channels >= 1 && format.rate_hz >= 1, "opened a file without channels or rate");
        // Alternate the two read paths: mixed-down mono and interleaved frames.
        for (std::size_t block = 0; reader.position() < kMaxFramesRead; ++block) {
            std::size_t got = 0;
            if (block % 2 == 0) {
                s.buffer.resize(kBlockFrames);
                got = reader.read_mono(s.buffer);
            } else {
                s.buffer.resize(kBlockFrames * format.channels);
                got = reader.read_frames(s.buffer);
            }
            require(got <= kBlockFrames, "read more frames than asked for");
            if (got == 0) break;
        }
    } catch (const AudioFileError& error) {
        require(std::string_view(error.what()).rfind(name, 0) == 0,
                "a refusal does not start with the file");
    }
    return 0;
}
