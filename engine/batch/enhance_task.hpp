#pragma once
// `statestream batch enhance`: one file through engine::enhance_file, exactly as `statestream
// enhance IN OUT` treats it (every channel through its own chain, resampled to the model's rate
// and back when the file has another, the chain's measured delay cut from the front and
// flushed from the back, so the output has the input's rate, channels and length and is
// aligned with it), with the model called as the batch asks (chunked by default) and a stop
// noticed between blocks. WAV (32-bit float) or FLAC (24-bit) out.

#include <cstddef>
#include <filesystem>
#include <memory>

#include "engine/batch/file_task.hpp"
#include "engine/enhancer_chain.hpp"
#include "engine/io/audio_file.hpp"

namespace statestream::engine::batch {

struct EnhanceTaskConfig {
    EnhancerSettings settings;
    AudioFileType output_type = AudioFileType::kWav;
    ModelCalls calls = ModelCalls::kChunked;
    std::size_t chunk_hops = kFileChunkHops;  // chunked only; rounded up to the rate's block
};

class EnhanceDelayCache;

class EnhanceTask final : public FileTask {
public:
    // Thread: setup. `model` must outlive the task and is shared, read-only, by every file.
    // Throws std::invalid_argument for a model that is not an enhancer or a bad setting.
    EnhanceTask(const models::SsmModel& model, const EnhanceTaskConfig& config);
    ~EnhanceTask() override;
    EnhanceTask(const EnhanceTask&) = delete;
    EnhanceTask& operator=(const EnhanceTask&) = delete;

    [[nodiscard]] std::string_view name() const noexcept override { return "enhance"; }
    [[nodiscard]] std::string output_extension() const override;
    [[nodiscard]] std::string describe() const override;
    [[nodiscard]] FileOutcome process(const std::filesystem::path& input,
                                      const std::filesystem::path& output,
                                      const std::atomic<bool>& stop) const override;

private:
    const models::SsmModel* model_;
    EnhanceTaskConfig config_;
    std::unique_ptr<EnhanceDelayCache> delays_;  // the chain's delay per input rate, shared by all files
};

}  // namespace statestream::engine::batch
