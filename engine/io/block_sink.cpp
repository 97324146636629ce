#include "engine/io/block_sink.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/core.h>
#include <fmt/format.h>

namespace statestream::engine::io {

namespace {

class NullSink final : public BlockSink {
public:
    explicit NullSink(const StageShape& shape) : shape_(shape) {}
    void write(std::span<const float> block) override { vectors_written_ += block.size() / shape_.dim; }
    void finish() override {}
    void truncate_to(std::uint64_t) override {}
    [[nodiscard]] std::string describe() const override { return "no output (counted only)"; }

private:
    StageShape shape_;
};

class AudioFileSink final : public BlockSink {
public:
    AudioFileSink(const std::filesystem::path& path, const StageShape& shape)
        : path_(path),
          writer_(path, static_cast<std::uint32_t>(shape.rate_hz), 1, audio_file_type_for(path)) {}
    // The newest block is held back until the next one arrives: the end of the input (and so
    // truncate_to's limit) may become known only after its padded last block was handed over,
    // and a file is not cut shorter once written.
    void write(std::span<const float> block) override {
        write_held();
        held_.assign(block.begin(), block.end());
    }
    void finish() override {
        write_held();
        writer_.commit();
    }
    void truncate_to(std::uint64_t vectors) override { limit_ = vectors; }
    [[nodiscard]] std::string describe() const override { return path_.string(); }

private:
    void write_held() {
        std::span<const float> kept(held_);
        if (limit_ && vectors_written_ + kept.size() > *limit_) {
            kept = kept.first(static_cast<std::size_t>(*limit_ - std::min(*limit_, vectors_written_)));
        }
        if (!kept.empty()) writer_.write(kept);
        vectors_written_ += kept.size();
        held_.clear();
    }

    std::filesystem::path path_;
    AudioFileWriter writer_;
    std::optional<std::uint64_t> limit_;
    std::vector<float> held_;
};

// Vectors as text: "time_s,v0,v1,...", the time of the vector's end (when it could be known).
class CsvSink final : public BlockSink {
public:
    CsvSink(const std::filesystem::path& path, const StageShape& shape)
        : path_(path), partial_(path.string() + ".partial"), shape_(shape),
          file_(partial_, std::ios::binary | std::ios::trunc) {
        if (!file_) {
            throw AudioFileError(fmt::format("{}: cannot create the output file; check that the "
                                             "folder exists and is writable", partial_.string()));
        }
        std::string header = "time_s";
        for (std::size_t d = 0; d < shape.dim; ++d) header += fmt::format(",v{}", d);
        file_ << header << '\n';
    }
    void write(std::span<const float> block) override {
        for (std::size_t v = 0; v + shape_.dim <= block.size(); v += shape_.dim) {
            const double time_s = static_cast<double>(vectors_written_ + 1) / shape_.rate_hz;
            line_ = fmt::format("{:.6f},{}", time_s,
                                fmt::join(block.subspan(v, shape_.dim), ","));
            file_ << line_ << '\n';
            ++vectors_written_;
        }
        if (!file_) {
            throw AudioFileError(fmt::format("{}: writing failed after {} rows (disk full?); the "
                                             "rows so far are kept there", partial_.string(),
                                             vectors_written_));
        }
    }
    void finish() override {
        file_.close();
        std::error_code error;
        std::filesystem::rename(partial_, path_, error);
        if (error) {
            throw AudioFileError(fmt::format("{}: could not rename into place: {}; the output "
                                             "is kept under the .partial name",
                                             partial_.string(), error.message()));
        }
    }
    void truncate_to(std::uint64_t) override {}  // vectors from padding are real model steps
    [[nodiscard]] std::string describe() const override { return path_.string(); }

private:
    std::filesystem::path path_;
    std::filesystem::path partial_;
    StageShape shape_;
    std::ofstream file_;
    std::string line_;
};

}  // namespace

std::unique_ptr<BlockSink> make_block_sink(const std::string& path, const StageShape& output) {
    if (path == "none") return std::make_unique<NullSink>(output);
    const std::filesystem::path file(path);
    if (file.extension() == ".csv") return std::make_unique<CsvSink>(file, output);
    if (output.dim != 1) {
        throw std::invalid_argument(fmt::format(
            "{}: the pipeline gives {}-dimensional vectors, not audio; write them to a .csv file",
            path, output.dim));
    }
    return std::make_unique<AudioFileSink>(file, output);
}

}  // namespace statestream::engine::io
