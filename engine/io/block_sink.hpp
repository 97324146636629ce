#pragma once
// Where a pipeline's output blocks go when they do not go to a device: an audio file (mono
// audio out: WAV or FLAC, written to "<path>.partial" and renamed on finish), a CSV file
// (feature or model vectors: one row per vector with its time), or nowhere (counted only).
// Sinks run off the real-time path (NonRealtimePool) and may allocate and do I/O.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "engine/io/audio_file.hpp"
#include "engine/stage.hpp"

namespace statestream::engine::io {

class BlockSink {
public:
    virtual ~BlockSink() = default;
    // Thread: one non-real-time thread at a time. Throws on I/O failure (naming the file).
    virtual void write(std::span<const float> block) = 0;
    // Thread: control. Makes what was written final (renames a partial file into place).
    virtual void finish() = 0;
    // Only the first `frames` vectors are wanted (the tail of a zero-padded last block goes).
    virtual void truncate_to(std::uint64_t vectors) = 0;
    [[nodiscard]] virtual std::string describe() const = 0;
    [[nodiscard]] std::uint64_t vectors_written() const noexcept { return vectors_written_; }

protected:
    std::uint64_t vectors_written_ = 0;
};

// Thread: setup. The sink for `path` given the pipeline's output shape: ".wav"/".flac" for
// mono audio, ".csv" for vectors, "none" for no output. Throws std::invalid_argument when the
// shape does not fit the format (audio files need 1-dimensional output), AudioFileError when
// the file cannot be created.
[[nodiscard]] std::unique_ptr<BlockSink> make_block_sink(const std::string& path,
                                                         const StageShape& output);

}  // namespace statestream::engine::io
