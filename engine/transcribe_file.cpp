#include "engine/transcribe_file.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <vector>

#include <fmt/core.h>

#include "engine/ctc_greedy_decoder.hpp"
#include "engine/thread_cpu_clock.hpp"

#include "dsp/log_mel_frontend.hpp"
#include "dsp/stream_resampler.hpp"
#include "engine/io/audio_file.hpp"

namespace statestream::engine {

namespace {

constexpr std::size_t kReadFrames = 4096;
// Silence fed after the end, so the model can emit what it heard last (a causal recogniser
// speaks a little after the sound).
constexpr double kTailSeconds = 0.4;

}  // namespace

void require_transcriber_model(const models::SsmModel& model) {
    const models::ModelDescription& description = model.file().description();
    const std::string& source = model.file().source();
    if (description.task != models::Task::kTranscribe) {
        throw std::invalid_argument(fmt::format(
            "{}: is a \"{}\" model, not a transcriber (task \"transcribe\"); give --model a "
            "transcriber such as data/models/transcriber.safetensors",
            source, models::task_name(description.task)));
    }
    if (description.frontend.type != models::FrontendType::kLogMel) {
        throw std::invalid_argument(fmt::format("{}: a transcriber needs the log_mel front-end",
                                                source));
    }
}

Transcript transcribe_file(const models::SsmModel& model, const std::filesystem::path& in,
                           const CtcDecoderFactory& make_decoder, const FileRunOptions& run) {
    require_transcriber_model(model);
    const models::FrontendSpec& frontend = model.file().description().frontend;
    AudioFileReader reader(in);
    const std::uint32_t rate = reader.format().rate_hz;

    std::unique_ptr<dsp::StreamResampler> resampler;
    if (rate != frontend.sample_rate_hz) {
        try {
            resampler = std::make_unique<dsp::StreamResampler>(dsp::ResamplerConfig{
                rate, frontend.sample_rate_hz, dsp::ResamplerQuality::kMedium, kReadFrames});
        } catch (const std::invalid_argument& error) {  // a rate no resampler takes: the file's fault
            throw AudioFileError(fmt::format("'{}': {}; resample the file", in.string(), error.what()));
        }
    }
    dsp::LogMelFrontend features({static_cast<double>(frontend.sample_rate_hz),
                                  frontend.window_samples, frontend.hop_samples, frontend.n_bands});
    const bool chunked = run.calls == ModelCalls::kChunked;
    const std::size_t rows = chunked ? std::max<std::size_t>(run.chunk_hops, 1) : 1;
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
    std::vector<float> pending;               // model-rate samples not yet a whole hop
    std::vector<float> chunk(rows * n_in);    // {rows, n_mels}: features waiting for the model
    std::vector<float> scores(rows * n_out);  // {rows, labels}
    std::size_t filled = 0;                   // rows of `chunk` holding features
    const auto run_model = [&] {
        if (filled == 0) return;
        if (chunked) {
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
        if (stop_requested(run)) throw FileRunStopped();
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
    run_model();  // chunked: the last, shorter block
    transcript.process_cpu_seconds += thread_cpu_seconds() - cpu0;
    transcript.audio_seconds = static_cast<double>(frames) / rate;
    transcript.decoder = std::string(decoder->name());
    transcript.text = decoder->text();
    transcript.words = decoder->words();
    return transcript;
}

}  // namespace statestream::engine
