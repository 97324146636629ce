#include "engine/io/audio_file.hpp"

#include <sndfile.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <string_view>
#include <cstring>
#include <system_error>

#include <fmt/core.h>

namespace statestream::engine {

namespace {

// libsndfile quietly shortens a WAV/AIFF whose data chunk runs past the end of the file (a cut
// download, a recorder that crashed) and only says so in its log: "data : 16000 (should be
// 12000)". The declared length, in frames, so the reader can report the truncation after
// delivering everything that is there; 0 when the log has no such line.
std::uint64_t declared_frames(SNDFILE* file) {
    std::array<char, 8192> log{};
    sf_command(file, SFC_GET_LOG_INFO, log.data(), static_cast<int>(log.size()));
    const std::string_view text(log.data());
    const auto data = text.find("\ndata : ");
    const auto align = text.find("Block Align   : ");
    if (data == std::string_view::npos || align == std::string_view::npos) return 0;
    unsigned long long declared_bytes = 0;
    unsigned long long actual_bytes = 0;
    unsigned long long block_align = 0;
    if (std::sscanf(log.data() + data, "\ndata : %llu (should be %llu)", &declared_bytes, &actual_bytes) != 2 ||
        std::sscanf(log.data() + align, "Block Align   : %llu", &block_align) != 1 || block_align == 0 ||
        declared_bytes <= actual_bytes) {
        return 0;
    }
    return declared_bytes / block_align;
}

}  // namespace

AudioFileReader::AudioFileReader(const std::filesystem::path& path) : path_(path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
        throw AudioFileError(fmt::format("'{}': no such file", path.string()));
    }
    if (std::filesystem::is_directory(path, ec)) {
        throw AudioFileError(fmt::format("'{}': is a directory, not an audio file", path.string()));
    }
    // libsndfile says "Format not recognised" for an empty file, which sends people looking for
    // a codec problem; an empty file is usually a copy or download that never happened.
    if (std::filesystem::is_regular_file(path, ec) && std::filesystem::file_size(path, ec) == 0 && !ec) {
        throw AudioFileError(fmt::format("'{}': is empty (0 bytes); nothing to read", path.string()));
    }
    SF_INFO info{};
    file_ = sf_open(path.c_str(), SFM_READ, &info);
    if (file_ == nullptr) {
        throw AudioFileError(fmt::format("'{}': cannot read it as audio ({}); statestream reads what "
                                         "libsndfile reads: WAV, FLAC, Ogg, AIFF, ...",
                                         path.string(), sf_strerror(nullptr)));
    }
    if (info.channels < 1 || info.samplerate < 1) {
        sf_close(file_);
        throw AudioFileError(fmt::format("'{}': declares {} channels at {} Hz; the file is corrupt",
                                         path.string(), info.channels, info.samplerate));
    }
    if (info.frames == 0) {
        sf_close(file_);
        throw AudioFileError(fmt::format("'{}': holds no audio (0 frames)", path.string()));
    }
    format_ = {static_cast<std::uint32_t>(info.samplerate), static_cast<std::uint32_t>(info.channels),
               info.frames > 0 ? static_cast<std::uint64_t>(info.frames) : 0};
    format_.frames = std::max(format_.frames, declared_frames(file_));
}

AudioFileReader::~AudioFileReader() {
    if (file_ != nullptr) sf_close(file_);
}

std::size_t AudioFileReader::read_mono(std::span<float> mono) {
    const std::size_t channels = format_.channels;
    interleaved_.resize(mono.size() * channels);
    const std::size_t frames = read_frames(interleaved_);
    for (std::size_t i = 0; i < frames; ++i) {
        float sum = 0.0f;
        for (std::size_t c = 0; c < channels; ++c) sum += interleaved_[i * channels + c];
        mono[i] = sum / static_cast<float>(channels);
    }
    return frames;
}

std::size_t AudioFileReader::read_frames(std::span<float> interleaved) {
    const std::size_t wanted = interleaved.size() / format_.channels;
    const sf_count_t got = sf_readf_float(file_, interleaved.data(), static_cast<sf_count_t>(wanted));
    if (got < 0 || sf_error(file_) != SF_ERR_NO_ERROR) {
        throw AudioFileError(fmt::format("'{}': read failed after {} frames ({})", path_.string(),
                                         position_, sf_strerror(file_)));
    }
    const auto frames = static_cast<std::size_t>(got);
    position_ += frames;
    // Checked at the short read, not only at the empty one after it: callers stop reading at a
    // short read (it is the end of the data), and a cut file must not pass for a shorter one.
    // SF_COUNT_MAX: libsndfile does not know the length, so nothing was declared.
    const bool length_declared = format_.frames != 0 && format_.frames < static_cast<std::uint64_t>(SF_COUNT_MAX);
    if (frames < wanted && length_declared && position_ < format_.frames) {
        throw AudioFileError(fmt::format("'{}': is truncated: its header declares {} frames, the "
                                         "data ends after {}", path_.string(), format_.frames, position_));
    }
    return frames;
}

AudioFileType audio_file_type_for(const std::filesystem::path& path) {
    const std::string extension = path.extension().string();
    if (extension == ".wav" || extension == ".WAV") return AudioFileType::kWav;
    if (extension == ".flac" || extension == ".FLAC") return AudioFileType::kFlac;
    throw AudioFileError(fmt::format("'{}': statestream writes .wav or .flac, not '{}'", path.string(), extension));
}

AudioFileWriter::AudioFileWriter(const std::filesystem::path& path, std::uint32_t rate_hz,
                                 std::uint32_t channels, AudioFileType type)
    : path_(path), partial_(path.string() + ".partial"), channels_(channels) {
    SF_INFO info{};
    info.samplerate = static_cast<int>(rate_hz);
    info.channels = static_cast<int>(channels);
    info.format = type == AudioFileType::kWav ? (SF_FORMAT_WAV | SF_FORMAT_FLOAT)
                                              : (SF_FORMAT_FLAC | SF_FORMAT_PCM_24);
    if (sf_format_check(&info) == 0) {
        throw AudioFileError(fmt::format("'{}': cannot write {} channels at {} Hz in this format",
                                         path.string(), channels, rate_hz));
    }
    file_ = sf_open(partial_.c_str(), SFM_WRITE, &info);
    if (file_ == nullptr) {
        throw AudioFileError(fmt::format("'{}': cannot create it ({}); check that the directory "
                                         "exists and is writable", partial_.string(), sf_strerror(nullptr)));
    }
    // Clip instead of wrapping when float samples beyond full scale go to integer FLAC.
    sf_command(file_, SFC_SET_CLIPPING, nullptr, SF_TRUE);
}

AudioFileWriter::~AudioFileWriter() {
    if (file_ != nullptr) sf_close(file_);  // keeps "<path>.partial": what was written survives
}

void AudioFileWriter::write(std::span<const float> interleaved) {
    const auto frames = static_cast<sf_count_t>(interleaved.size() / channels_);
    errno = 0;
    const sf_count_t wrote = sf_writef_float(file_, interleaved.data(), frames);
    if (wrote > 0) frames_ += static_cast<std::uint64_t>(wrote);
    if (wrote != frames) {
        const std::string reason = errno != 0 ? std::strerror(errno) : sf_strerror(file_);
        throw AudioFileWriteError(fmt::format("'{}': wrote {} frames, then failed ({}); the frames before "
                                         "are kept in that file", partial_.string(), frames_, reason));
    }
}

void AudioFileWriter::commit() {
    sf_write_sync(file_);
    const int status = sf_close(file_);
    file_ = nullptr;
    if (status != 0) {
        throw AudioFileWriteError(fmt::format("'{}': closing failed ({}); the data written so far is in "
                                         "that file", partial_.string(), sf_error_number(status)));
    }
    std::error_code ec;
    std::filesystem::rename(partial_, path_, ec);
    if (ec) {
        throw AudioFileWriteError(fmt::format("'{}': cannot move '{}' into place ({})", path_.string(),
                                         partial_.string(), ec.message()));
    }
}

}  // namespace statestream::engine
