#include "bench/transcriber_stream.hpp"

#include "bench/timing.hpp"
#include "models/model_file.hpp"

namespace statestream::bench {

TranscriberStream::TranscriberStream(const models::SsmModel& model, std::uint32_t input_rate_hz,
                                     double endpoint_seconds, const engine::CtcDecoderFactory& make_decoder,
                                     engine::TranscriptEvents events, std::size_t offset)
    : model_(model),
      frontend_(model.file().description().frontend),
      input_rate_(input_rate_hz),
      offset_(offset),
      features_({static_cast<double>(frontend_.sample_rate_hz), frontend_.window_samples, frontend_.hop_samples,
                 frontend_.n_bands}),
      state_(model.make_state()),
      mel_(frontend_.n_bands),
      scores_(model.output_dim()),
      input_(input_end(0) + 1) {
    if (input_rate_ != frontend_.sample_rate_hz) {
        resampler_ = std::make_unique<dsp::StreamResampler>(dsp::ResamplerConfig{
            input_rate_, frontend_.sample_rate_hz, dsp::ResamplerQuality::kMedium, input_.size()});
        resampled_.resize(resampler_->max_output_samples(input_.size()));
    }
    pending_.reserve(4 * (frontend_.hop_samples + resampled_.size()));
    const double hop_seconds = static_cast<double>(frontend_.hop_samples) / frontend_.sample_rate_hz;
    sink_ = std::make_unique<engine::TranscriptSink>(
        make_decoder(model.file().description().labels, hop_seconds, resampler_delay_seconds()), hop_seconds,
        endpoint_seconds, std::move(events));
}

std::size_t TranscriberStream::input_end(std::size_t k) const {
    const std::uint64_t model_samples = (k + 1) * std::uint64_t{frontend_.hop_samples};
    return static_cast<std::size_t>((model_samples * input_rate_ + frontend_.sample_rate_hz - 1) /
                                    frontend_.sample_rate_hz);
}

double TranscriberStream::resampler_delay_seconds() const {
    return resampler_ ? static_cast<double>(resampler_->latency_samples()) / frontend_.sample_rate_hz : 0.0;
}

StepParts TranscriberStream::step(std::span<const float> signal, models::ModelWorkspace& workspace) {
    StepParts parts;
    const double t0 = thread_cpu_ns();
    const std::size_t need = input_end(steps_) - consumed_;
    for (std::size_t i = 0; i < need; ++i) input_[i] = signal[(offset_ + consumed_ + i) % signal.size()];
    consumed_ += need;
    const auto fresh = std::span<const float>(input_).first(need);
    if (resampler_) {
        const std::size_t made = resampler_->process(fresh, resampled_);
        pending_.insert(pending_.end(), resampled_.begin(), resampled_.begin() + static_cast<std::ptrdiff_t>(made));
    } else {
        pending_.insert(pending_.end(), fresh.begin(), fresh.end());
    }
    features_.process(std::span<const float>(pending_).first(frontend_.hop_samples), mel_);
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(frontend_.hop_samples));
    const double t1 = thread_cpu_ns();
    model_.step(state_, workspace, mel_, scores_);
    const double t2 = thread_cpu_ns();
    // Live, the sink decodes on the pool thread; here it runs on this one, which is what it
    // costs the core. The timed runs give it no event callbacks (nothing is printed).
    sink_->write(scores_);
    const double t3 = thread_cpu_ns();
    ++steps_;
    parts.frontend_ns = t1 - t0;
    parts.model_ns = t2 - t1;
    parts.decoder_ns = t3 - t2;
    return parts;
}

}  // namespace statestream::bench
