#pragma once
// `statestream batch enhance`: one file through the enhancer exactly as `statestream enhance IN
// OUT` (engine/enhance_file.hpp) treats it: every channel through its own chain (resampled to
// the model's rate and back when the file has another), the chain's measured delay cut from
// the front and flushed from the back, so the output has the input's rate, channels and length
// and is aligned with it. WAV (32-bit float) or FLAC (24-bit) out.
//
// Chunked (the default), the model runs once per block of hops through forward()
// (chunked_enhancer_stage.hpp); step by step, the chain is the live one, one step() per 10 ms
// hop. Both give the same audio up to float rounding; the bench compares their speed.

#include <cstddef>
#include <filesystem>
#include <memory>

#include "engine/batch/file_task.hpp"
#include "engine/enhancer_chain.hpp"
#include "engine/io/audio_file.hpp"

namespace statestream::engine::batch {

// Hops per forward() call: 16 = 160 ms of audio. A call reads every weight once for all its
// rows, so a block of hops costs less than as many step() calls; but the block's spectra
// ({16, 481} complex) and the model's activations must stay in the core's L2 while the block
// goes through analysis, model and synthesis. Measured with the shipped enhancer on one core of
// a 2-core EPYC VM (512 kB L2 per core), median CPU per 2 s file: 16 hops about 130x real
// time, 4-32 hops within 10 % of that, 64 and 128 hops about 90x, step by step 85-120x (the
// VM was shared; `statestream bench batch` gives the figures of the machine at hand). A stop
// request is noticed between blocks.
inline constexpr std::size_t kEnhanceChunkHops = 16;

struct EnhanceTaskConfig {
    EnhancerSettings settings;
    AudioFileType output_type = AudioFileType::kWav;
    ModelCalls calls = ModelCalls::kChunked;
    std::size_t chunk_hops = kEnhanceChunkHops;  // chunked only; rounded up to the rate's block
};

// Thread: setup. The chain for one channel at rate_hz: the live chain
// (engine::make_enhancer_chain) for kStepByStep; for kChunked the same resamplers around a
// ChunkedEnhancerStage, with a block of at least chunk_hops hops that is a whole number of
// samples at rate_hz. Throws std::invalid_argument as make_enhancer_chain does.
[[nodiscard]] std::unique_ptr<Pipeline> make_file_enhancer_chain(const models::SsmModel& model,
                                                                 const EnhancerChainConfig& chain,
                                                                 ModelCalls calls,
                                                                 std::size_t chunk_hops);

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
