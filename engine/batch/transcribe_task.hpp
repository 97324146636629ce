#pragma once
// `statestream batch transcribe`: one file through engine::transcribe_file, as `statestream
// transcribe` reads it (channels mixed to mono, resampled to the model's rate, log-mel features
// hop by hop, 0.4 s of silence after the end, CTC decoding: greedy or the beam search with the
// word LM that apps/transcriber_setup chooses), with the model called as the batch asks
// (chunked by default) and a stop noticed between reads; the transcript is written in the
// chosen format (engine/transcript_formats.hpp), atomically.

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <string>

#include "engine/batch/file_task.hpp"
#include "engine/ctc_decoder.hpp"
#include "engine/transcript_formats.hpp"
#include "models/ssm_model.hpp"

namespace statestream::engine::batch {

struct TranscribeTaskConfig {
    TranscriptFormat format = TranscriptFormat::kText;
    CtcDecoderFactory make_decoder;     // empty: greedy
    std::string decoder_description;    // for the report: the search, its settings, the LM file
    ModelCalls calls = ModelCalls::kChunked;
    std::size_t chunk_steps = kFileChunkHops;
};

class TranscribeTask final : public FileTask {
public:
    // Thread: setup. `model` must outlive the task and is shared, read-only, by every file, as
    // is the LM inside make_decoder. Throws std::invalid_argument when the model is not a
    // transcriber.
    TranscribeTask(const models::SsmModel& model, TranscribeTaskConfig config);

    [[nodiscard]] std::string_view name() const noexcept override { return "transcribe"; }
    [[nodiscard]] std::string output_extension() const override;
    [[nodiscard]] std::string describe() const override;
    [[nodiscard]] FileOutcome process(const std::filesystem::path& input,
                                      const std::filesystem::path& output,
                                      const std::atomic<bool>& stop) const override;

private:
    const models::SsmModel* model_;
    TranscribeTaskConfig config_;
};

}  // namespace statestream::engine::batch
