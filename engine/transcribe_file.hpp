#pragma once
// A whole file through a transcriber: any file libsndfile reads (channels mixed to mono),
// resampled to the model's rate, log-mel features hop by hop, one model step per hop, CTC
// decoding (greedy, or a beam search with a word LM). The same streaming chain as live
// transcription, fed as fast as it goes.

#include <filesystem>
#include <string>

#include "engine/ctc_decoder.hpp"
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
// unreadable, truncated or non-finite input. make_decoder makes the file's decoder (its CPU
// time counts in process_cpu_seconds); an empty one means greedy decoding.
[[nodiscard]] Transcript transcribe_file(const models::SsmModel& model, const std::filesystem::path& in,
                                         const CtcDecoderFactory& make_decoder = {});

}  // namespace statestream::engine
