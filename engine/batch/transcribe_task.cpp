#include "engine/batch/transcribe_task.hpp"

#include <cmath>
#include <memory>
#include <vector>

#include <fmt/core.h>

#include "dsp/log_mel_frontend.hpp"
#include "dsp/stream_resampler.hpp"
#include "engine/batch/atomic_file.hpp"
#include "engine/ctc_greedy_decoder.hpp"
#include "engine/io/audio_file.hpp"
#include "engine/thread_cpu_clock.hpp"

namespace statestream::engine::batch {

namespace {

// As engine/transcribe_file.cpp: the read block, and the silence fed after the end so the
// causal model can emit what it heard last.
constexpr std::size_t kReadFrames = 4096;
constexpr double kTailSeconds = 0.4;

}  // namespace

Transcript transcribe_in_chunks(const models::SsmModel& model, const std::filesystem::path& in,
                                const CtcDecoderFactory& make_decoder, ModelCalls calls,
                                std::size_t chunk_steps, const std::atomic<bool>* stop) {
    require_transcriber_model(model);
    const models::FrontendSpec& frontend = model.file().description().frontend;
    AudioFileReader reader(in);
    const std::uint32_t rate = reader.format().rate_hz;

    std::unique_ptr<dsp::StreamResampler> resampler;
    if (rate != frontend.sample_rate_hz) {
        resampler = std::make_unique<dsp::StreamResampler>(dsp::ResamplerConfig{
            rate, frontend.sample_rate_hz, dsp::ResamplerQuality::kMedium, kReadFrames});
    }
    dsp::LogMelFrontend features({static_cast<double>(frontend.sample_rate_hz),
                                  frontend.window_samples, frontend.hop_samples, frontend.n_bands});
    const std::size_t rows = calls == ModelCalls::kChunked ? std::max<std::size_t>(chunk_steps, 1) : 1;
    models::StreamState state = model.make_state();
    models::ModelWorkspace workspace(model, rows);
    const double hop_seconds = static_cast<double>(frontend.hop_samples) / frontend.sample_rate_hz;
    const double resampler_delay =
        resampler ? static_cast<double>(resampler->latency_samples()) / frontend.sample_rate_hz : 0.0;
    const std::vector<std::string>& labels = model.file().description().labels;
    const std::unique_ptr<CtcDecoder> decoder =
        make_decoder ? make_decoder(labels, hop_seconds, resampler_delay)
                     : std::make_unique<CtcGreedyDecoder>(labels, hop_seconds, resampler_delay);

    Transcript transcript;
    const std::size_t n_in = model.input_dim();
    const std::size_t n_out = model.output_dim();
    std::vector<float> block(kReadFrames);
    std::vector<float> at_model_rate(resampler ? resampler->max_output_samples(kReadFrames) : 0);
    std::vector<float> pending;                   // model-rate samples not yet a whole hop
    std::vector<float> chunk(rows * n_in);        // {rows, n_mels}: features waiting for the model
    std::vector<float> scores(rows * n_out);      // {rows, labels}
    std::size_t filled = 0;                       // rows of `chunk` holding features
    const auto run_model = [&] {
        if (filled == 0) return;
        if (calls == ModelCalls::kChunked) {
            model.forward(state, workspace, std::span<const float>(chunk).first(filled * n_in),
                          std::span<float>(scores).first(filled * n_out));
        } else {
            model.step(state, workspace, std::span<const float>(chunk).first(n_in),
                       std::span<float>(scores).first(n_out));
        }
        for (std::size_t r = 0; r < filled; ++r) {
            decoder->push(std::span<const float>(scores).subspan(r * n_out, n_out));
        }
        transcript.steps += filled;
        filled = 0;
    };
    const auto step_hops = [&](std::span<const float> samples) {
        pending.insert(pending.end(), samples.begin(), samples.end());
        std::size_t at = 0;
        for (; at + frontend.hop_samples <= pending.size(); at += frontend.hop_samples) {
            features.process(std::span<const float>(pending).subspan(at, frontend.hop_samples),
                             std::span<float>(chunk).subspan(filled * n_in, n_in));
            if (++filled == rows) run_model();
        }
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(at));
    };
    const auto feed = [&](std::span<const float> samples) {
        const double cpu0 = thread_cpu_seconds();
        if (resampler) {
            const std::size_t made = resampler->process(samples, at_model_rate);
            step_hops(std::span<const float>(at_model_rate).first(made));
        } else {
            step_hops(samples);
        }
        transcript.process_cpu_seconds += thread_cpu_seconds() - cpu0;
    };

    std::uint64_t frames = 0;
    for (;;) {
        if (stop != nullptr && stop->load(std::memory_order_acquire)) throw BatchInterrupted();
        const std::size_t got = reader.read_mono(block);
        if (got == 0) break;
        for (std::size_t i = 0; i < got; ++i) {
            if (!std::isfinite(block[i])) {
                throw AudioFileError(fmt::format("'{}': sample {} is {}; fix or cut the input there",
                                                 in.string(), frames + i,
                                                 std::isnan(block[i]) ? "NaN" : "infinite"));
            }
        }
        frames += got;
        feed(std::span<const float>(block).first(got));
    }
    std::fill(block.begin(), block.end(), 0.0f);
    for (std::size_t tail = static_cast<std::size_t>(kTailSeconds * rate); tail > 0;) {
        const std::size_t n = std::min(tail, block.size());
        feed(std::span<const float>(block).first(n));
        tail -= n;
    }
    const double cpu0 = thread_cpu_seconds();
    run_model();  // the last, shorter block
    transcript.process_cpu_seconds += thread_cpu_seconds() - cpu0;
    transcript.audio_seconds = static_cast<double>(frames) / rate;
    transcript.decoder = std::string(decoder->name());
    transcript.text = decoder->text();
    transcript.words = decoder->words();
    return transcript;
}

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
    const Transcript transcript =
        transcribe_in_chunks(*model_, input, config_.make_decoder, config_.calls, config_.chunk_steps, &stop);
    write_file_atomically(output, render_transcript(transcript, config_.format, input.string()));
    return {transcript.audio_seconds, transcript.process_cpu_seconds};
}

}  // namespace statestream::engine::batch
