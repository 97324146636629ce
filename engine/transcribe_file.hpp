#pragma once
// A whole file through a transcriber: any file libsndfile reads (channels mixed to mono),
// resampled to the model's rate, log-mel features hop by hop, 0.4 s of silence after the end,
// CTC decoding (greedy, or a beam search with a word LM). Step by step it is the same streaming
// chain as live transcription, fed as fast as it goes. Chunked, features are gathered for a
// block of hops, the model runs once per block through forward(), and the block's scores go to
// the decoder frame by frame: the same scores up to float rounding, so the same transcript
// (tests/engine/test_batch_transcribe.cpp). Blocks rather than the whole file's features at
// once: a 10-hour recording has 3.6 million hops, 1.1 GB of 80-band features, where a block of
// 16 hops is 5 kB.

#include <filesystem>
#include <string>

#include "engine/ctc_decoder.hpp"
#include "engine/file_run_options.hpp"
#include "models/ssm_model.hpp"

namespace statestream::engine {

// Thread: setup. Throws std::invalid_argument naming the model file when it is not a
// transcriber (task transcribe, a log_mel front-end, labels for its outputs).
void require_transcriber_model(const models::SsmModel& model);

struct Transcript {
    std::string decoder;  // CtcDecoder::name() of the search that ran
    std::string text;
    std::vector<TimedWord> words;
    double audio_seconds = 0.0;
    double process_cpu_seconds = 0.0;  // this thread's CPU time in resampling, features, model
    std::size_t steps = 0;             // model steps (10 ms hops)
};

// Thread: worker (allocates, reads the file). Throws AudioFileError naming the file for
// unreadable, truncated or non-finite input, std::invalid_argument for a model that is not a
// transcriber, FileRunStopped once run.stop is set (checked before each read of 4096 samples).
// make_decoder makes the file's decoder (its CPU time counts in process_cpu_seconds); an empty
// one means greedy decoding. The model runs as `run` says: step by step by default.
[[nodiscard]] Transcript transcribe_file(const models::SsmModel& model, const std::filesystem::path& in,
                                         const CtcDecoderFactory& make_decoder = {},
                                         const FileRunOptions& run = {});

}  // namespace statestream::engine
