#pragma once
// One live transcription stream as `statestream bench transcribe` times it: resample (when the
// input is not at the model's rate) -> log-mel -> model step -> transcript sink with its own
// CTC decoder, the chain `statestream transcribe --input` runs, but stepped by the bench's one
// thread so each part's CPU time can be read. Its own resampler, front-end, state, decoder and
// sink; the weights and the workspace are shared. It reads its input from a signal it loops
// over, starting at its own offset.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "dsp/log_mel_frontend.hpp"
#include "dsp/stream_resampler.hpp"
#include "engine/ctc_decoder.hpp"
#include "engine/transcript_sink.hpp"
#include "models/ssm_model.hpp"

namespace statestream::bench {

// CPU time of one step, by part.
struct StepParts {
    double frontend_ns = 0.0;  // resampling (if any) and log-mel
    double model_ns = 0.0;     // the SSM stack's step
    double decoder_ns = 0.0;   // the CTC decoder in the live transcript sink, with its events
    [[nodiscard]] double total() const { return frontend_ns + model_ns + decoder_ns; }
};

class TranscriberStream {
public:
    // Thread: setup (allocates, plans the FFT). make_decoder: this stream's decoder, as
    // `statestream transcribe` makes one per stream; events: the sink's (empty: nothing fires).
    TranscriberStream(const models::SsmModel& model, std::uint32_t input_rate_hz, double endpoint_seconds,
                      const engine::CtcDecoderFactory& make_decoder, engine::TranscriptEvents events,
                      std::size_t offset);

    // Input samples (at the input rate) step `k` needs in all: its hop at the model's rate
    // ends at (k + 1) * hop model-rate samples.
    [[nodiscard]] std::size_t input_end(std::size_t k) const;
    [[nodiscard]] double resampler_delay_seconds() const;
    engine::TranscriptSink& sink() { return *sink_; }

    // Thread: the bench's. One step: feeds what the next hop needs from `signal`, runs it.
    StepParts step(std::span<const float> signal, models::ModelWorkspace& workspace);

private:
    const models::SsmModel& model_;
    const models::FrontendSpec& frontend_;
    std::uint32_t input_rate_;
    std::size_t offset_;
    std::unique_ptr<dsp::StreamResampler> resampler_;
    dsp::LogMelFrontend features_;
    models::StreamState state_;
    std::unique_ptr<engine::TranscriptSink> sink_;
    std::vector<float> mel_, scores_, input_, resampled_, pending_;
    std::size_t consumed_ = 0;  // input samples taken from the signal
    std::size_t steps_ = 0;
};

}  // namespace statestream::bench
