#include "engine/batch/transcribe_task.hpp"

#include <fmt/core.h>

#include "engine/batch/atomic_file.hpp"
#include "engine/transcribe_file.hpp"

namespace statestream::engine::batch {

TranscribeTask::TranscribeTask(const models::SsmModel& model, TranscribeTaskConfig config)
    : model_(&model), config_(std::move(config)) {
    require_transcriber_model(model);
}

std::string TranscribeTask::output_extension() const { return std::string(extension_of(config_.format)); }

std::string TranscribeTask::describe() const {
    const std::string calls =
        config_.calls == ModelCalls::kChunked
            ? fmt::format("chunked: one forward() per {} hops", config_.chunk_steps)
            : std::string("step by step: one step() per hop");
    return calls + "; decoder: " +
           (config_.decoder_description.empty() ? std::string("greedy CTC") : config_.decoder_description);
}

FileOutcome TranscribeTask::process(const std::filesystem::path& input, const std::filesystem::path& output,
                                    const std::atomic<bool>& stop) const {
    const Transcript transcript = transcribe_file(
        *model_, input, config_.make_decoder, file_run_options(config_.calls, config_.chunk_steps, stop));
    write_file_atomically(output, render_transcript(transcript, config_.format, input.string()));
    return {transcript.audio_seconds, transcript.process_cpu_seconds};
}

}  // namespace statestream::engine::batch
