#pragma once
// `statestream batch transcribe`: one file through the recogniser, as `statestream transcribe`
// (engine/transcribe_file.hpp) reads it: channels mixed to mono, resampled to the model's rate,
// log-mel features hop by hop, 0.4 s of silence after the end, CTC decoding (greedy or the
// beam search with the word LM that apps/transcriber_setup chooses). Chunked (the default),
// features are gathered for a block of hops and the model runs once per block through
// forward(); the block's scores then go to the decoder frame by frame. Step by step, the model
// runs once per hop, exactly as transcribe_file does. Both give the same scores up to float
// rounding, so the same transcript (tests/engine/test_batch_transcribe.cpp).
//
// Blocks rather than the whole file's features at once: a 10-hour recording has 3.6 million
// hops, 1.1 GB of 80-band features per job, where a block of 16 hops is 5 kB.

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <string>

#include "engine/batch/file_task.hpp"
#include "engine/batch/transcript_formats.hpp"
#include "engine/ctc_decoder.hpp"
#include "engine/transcribe_file.hpp"
#include "models/ssm_model.hpp"

namespace statestream::engine::batch {

// Hops per forward() call: 16 = 160 ms of speech, as the enhancer's blocks. Measured with the
// shipped recogniser (greedy) on one core of a 2-core EPYC VM, median CPU per 10.75 s file:
// 4 to 128 hops all within 10 % of 80x real time, step by step 56x; the same block size as
// the enhancer keeps one figure to reason about. A stop request is noticed between read blocks
// (4096 input samples), not chunks.
inline constexpr std::size_t kTranscribeChunkSteps = 16;

// Thread: worker (allocates, reads the file). transcribe_file's chain with the model called as
// `calls` says (chunk_steps hops per forward() when chunked). stop, when given, is read between
// read blocks: BatchInterrupted once it is set. Throws AudioFileError naming the file for
// unreadable, truncated or non-finite input, std::invalid_argument for a model that is not a
// transcriber. An empty make_decoder means greedy decoding.
[[nodiscard]] Transcript transcribe_in_chunks(const models::SsmModel& model, const std::filesystem::path& in,
                                              const CtcDecoderFactory& make_decoder, ModelCalls calls,
                                              std::size_t chunk_steps = kTranscribeChunkSteps,
                                              const std::atomic<bool>* stop = nullptr);

struct TranscribeTaskConfig {
    TranscriptFormat format = TranscriptFormat::kText;
    CtcDecoderFactory make_decoder;     // empty: greedy
    std::string decoder_description;    // for the report: the search, its settings, the LM file
    ModelCalls calls = ModelCalls::kChunked;
    std::size_t chunk_steps = kTranscribeChunkSteps;
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
