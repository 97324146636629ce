#pragma once
// Audio files through libsndfile: any format it reads (WAV, FLAC, Ogg/Vorbis, AIFF, ...) in,
// WAV or FLAC out. Errors are AudioFileError and name the file, what is wrong and what to do.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

typedef struct sf_private_tag SNDFILE;  // libsndfile's handle, as sndfile.h names it

namespace statestream::engine {

class AudioFileError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Writing failed once the file was open (disk full, I/O error): the environment's fault, not the
// input's, so commands exit 1 rather than 2. What was written is kept under "<path>.partial".
class AudioFileWriteError : public AudioFileError {
public:
    using AudioFileError::AudioFileError;
};

struct AudioFormat {
    std::uint32_t rate_hz = 0;
    std::uint32_t channels = 0;
    std::uint64_t frames = 0;  // per channel, as the header declares (0 when unknown)
};

class AudioFileReader {
public:
    // Thread: worker or setup. Opens and checks the file; throws AudioFileError when it is
    // missing, unreadable, not audio, empty, or has no channels.
    explicit AudioFileReader(const std::filesystem::path& path);
    ~AudioFileReader();
    AudioFileReader(const AudioFileReader&) = delete;
    AudioFileReader& operator=(const AudioFileReader&) = delete;

    [[nodiscard]] const AudioFormat& format() const noexcept { return format_; }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

    // Thread: worker. Reads up to mono.size() frames mixed down to one channel (the mean of the
    // channels); returns how many it read, 0 at the end. Throws AudioFileError when a read
    // fails, and when the data ends before the header's frame count (truncated): at the read
    // that reaches the cut, whose frames are not returned; the frames of earlier reads stand.
    std::size_t read_mono(std::span<float> mono);
    // Thread: worker. Reads up to interleaved.size() / channels frames, channels interleaved as
    // in the file; returns how many frames it read, 0 at the end. Errors as read_mono.
    std::size_t read_frames(std::span<float> interleaved);
    // Frames read so far.
    [[nodiscard]] std::uint64_t position() const noexcept { return position_; }

private:
    std::filesystem::path path_;
    SNDFILE* file_ = nullptr;
    AudioFormat format_;
    std::uint64_t position_ = 0;
    std::vector<float> interleaved_;
};

enum class AudioFileType { kWav, kFlac };

// Thread: setup. The type for an output path's extension (".wav", ".flac"); throws
// AudioFileError for anything else.
[[nodiscard]] AudioFileType audio_file_type_for(const std::filesystem::path& path);

class AudioFileWriter {
public:
    // Thread: worker or setup. Writes to "<path>.partial" and renames it to `path` in commit(),
    // so a crash or an error never leaves a half-written file under the final name. WAV is
    // 32-bit float, FLAC 24-bit. Throws AudioFileError when the file cannot be created.
    AudioFileWriter(const std::filesystem::path& path, std::uint32_t rate_hz, std::uint32_t channels,
                    AudioFileType type);
    // Without commit(), the partial file stays beside the target (what was written is kept)
    // and is not renamed.
    ~AudioFileWriter();
    AudioFileWriter(const AudioFileWriter&) = delete;
    AudioFileWriter& operator=(const AudioFileWriter&) = delete;

    // Thread: worker. Interleaved frames; throws AudioFileWriteError naming the file and the
    // system's reason (disk full) when not all could be written.
    void write(std::span<const float> interleaved);
    // Thread: worker. Flushes, closes and renames into place; throws AudioFileWriteError on
    // failure (the partial file is kept then, under "<path>.partial").
    void commit();

    [[nodiscard]] std::uint64_t frames_written() const noexcept { return frames_; }
    [[nodiscard]] std::filesystem::path partial_path() const { return partial_; }

private:
    std::filesystem::path path_;
    std::filesystem::path partial_;
    SNDFILE* file_ = nullptr;
    std::uint32_t channels_ = 1;
    std::uint64_t frames_ = 0;
};

}  // namespace statestream::engine
