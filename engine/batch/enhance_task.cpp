#include "engine/batch/enhance_task.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <fmt/core.h>

#include "engine/batch/chunked_enhancer_stage.hpp"
#include "engine/stages/resample_stage.hpp"
#include "engine/thread_cpu_clock.hpp"

namespace statestream::engine::batch {

namespace {

// The rates engine::make_enhancer_chain takes, and its largest block; the chunked chain keeps
// to the same contract.
constexpr std::uint32_t kMinRateHz = 8000;
constexpr std::uint32_t kMaxRateHz = 192000;
constexpr std::size_t kMaxBaseHops = 64;

// The fewest hops whose duration is a whole number of samples at rate_hz.
std::size_t base_hops(std::uint64_t hop, std::uint64_t model_rate, std::uint64_t rate_hz) {
    for (std::size_t hops = 1; hops <= kMaxBaseHops; ++hops) {
        if ((hops * hop * rate_hz) % model_rate == 0) return hops;
    }
    throw std::invalid_argument(fmt::format(
        "{} Hz does not share a block of at most {} hops with the model's {} Hz; resample the "
        "input to a common rate (16000, 44100, 48000) first", rate_hz, kMaxBaseHops, model_rate));
}

// Every channel through its own chain: its own model state, as `statestream enhance` does.
class ChannelChains {
public:
    ChannelChains(const models::SsmModel& model, const EnhancerChainConfig& config,
                  std::size_t channels, ModelCalls calls, std::size_t chunk_hops) {
        for (std::size_t c = 0; c < channels; ++c) {
            chains_.push_back(make_file_enhancer_chain(model, config, calls, chunk_hops));
        }
        block_ = chains_.front()->input().block;
        in_.resize(block_);
        out_.resize(block_);
    }
    [[nodiscard]] std::size_t block() const noexcept { return block_; }

    void step(std::span<const float> interleaved_in, std::span<float> interleaved_out) noexcept {
        const std::size_t channels = chains_.size();
        for (std::size_t c = 0; c < channels; ++c) {
            for (std::size_t i = 0; i < block_; ++i) in_[i] = interleaved_in[i * channels + c];
            chains_[c]->step(in_, out_);
            for (std::size_t i = 0; i < block_; ++i) interleaved_out[i * channels + c] = out_[i];
        }
    }

private:
    std::vector<std::unique_ptr<Pipeline>> chains_;
    std::size_t block_ = 0;
    std::vector<float> in_;
    std::vector<float> out_;
};

void require_finite(std::span<const float> interleaved, std::size_t channels,
                    std::uint64_t first_frame, const std::filesystem::path& in) {
    for (std::size_t i = 0; i < interleaved.size(); ++i) {
        if (std::isfinite(interleaved[i])) continue;
        throw AudioFileError(fmt::format("'{}': sample {} of channel {} is {}; fix or cut the input there",
                                         in.string(), first_frame + i / channels, i % channels + 1,
                                         std::isnan(interleaved[i]) ? "NaN" : "infinite"));
    }
}

}  // namespace

// The chain's delay at each rate, measured once per rate for the whole batch: the impulse
// runs about 1.5 s of audio through a fresh chain, as much work as a short file itself.
class EnhanceDelayCache {
public:
    MeasuredDelay at(const models::SsmModel& model, const EnhancerChainConfig& config) {
        {
            const std::lock_guard lock(mutex_);
            if (const auto it = delays_.find(config.rate_hz); it != delays_.end()) return it->second;
        }
        const MeasuredDelay delay = measure_impulse_delay(model, config);  // outside the lock
        const std::lock_guard lock(mutex_);
        delays_.emplace(config.rate_hz, delay);
        return delay;
    }

private:
    std::mutex mutex_;
    std::map<std::uint32_t, MeasuredDelay> delays_;
};

std::unique_ptr<Pipeline> make_file_enhancer_chain(const models::SsmModel& model,
                                                   const EnhancerChainConfig& config,
                                                   ModelCalls calls, std::size_t chunk_hops) {
    if (calls == ModelCalls::kStepByStep) return make_enhancer_chain(model, config);
    require_enhancer_model(model);
    if (config.rate_hz < kMinRateHz || config.rate_hz > kMaxRateHz) {
        throw std::invalid_argument(fmt::format("{} Hz is outside the {}..{} Hz the enhancer takes",
                                                config.rate_hz, kMinRateHz, kMaxRateHz));
    }
    const auto& frontend = model.file().description().frontend;
    const std::uint32_t model_rate = frontend.sample_rate_hz;
    const std::size_t base = base_hops(frontend.hop_samples, model_rate, config.rate_hz);
    const std::size_t hops = (std::max<std::size_t>(chunk_hops, 1) + base - 1) / base * base;
    std::vector<std::unique_ptr<Stage>> stages;
    if (config.rate_hz == model_rate) {
        stages.push_back(std::make_unique<ChunkedEnhancerStage>(model, config.settings, hops));
        return std::make_unique<Pipeline>(std::move(stages));
    }
    const std::size_t block_at_rate = hops * frontend.hop_samples * config.rate_hz / model_rate;
    stages.push_back(std::make_unique<ResampleStage>(config.rate_hz, model_rate, block_at_rate,
                                                     config.resampler_quality));
    stages.push_back(std::make_unique<ChunkedEnhancerStage>(model, config.settings, hops));
    stages.push_back(std::make_unique<ResampleStage>(model_rate, config.rate_hz,
                                                     hops * frontend.hop_samples,
                                                     config.resampler_quality));
    return std::make_unique<Pipeline>(std::move(stages));
}

EnhanceTask::EnhanceTask(const models::SsmModel& model, const EnhanceTaskConfig& config)
    : model_(&model), config_(config), delays_(std::make_unique<EnhanceDelayCache>()) {
    validate(config.settings);
    require_enhancer_model(model);
}

EnhanceTask::~EnhanceTask() = default;

std::string EnhanceTask::output_extension() const {
    return config_.output_type == AudioFileType::kFlac ? ".flac" : ".wav";
}

std::string EnhanceTask::describe() const {
    return config_.calls == ModelCalls::kChunked
               ? fmt::format("chunked: one forward() per {} hops ({:.2f} s at the model's rate)",
                             config_.chunk_hops,
                             static_cast<double>(config_.chunk_hops) *
                                 model_->file().description().frontend.hop_samples /
                                 model_->file().description().frontend.sample_rate_hz)
               : std::string("step by step: one step() per hop, the live chain");
}

FileOutcome EnhanceTask::process(const std::filesystem::path& input, const std::filesystem::path& output,
                                 const std::atomic<bool>& stop) const {
    AudioFileReader reader(input);
    const AudioFormat format = reader.format();
    const std::size_t channels = format.channels;

    EnhancerChainConfig chain;
    chain.rate_hz = format.rate_hz;
    chain.settings = config_.settings;
    // As engine::enhance_file, so a batch writes what `statestream enhance` writes.
    chain.resampler_quality = dsp::ResamplerQuality::kMedium;
    const MeasuredDelay delay = delays_->at(*model_, chain);
    ChannelChains chains(*model_, chain, channels, config_.calls, config_.chunk_hops);
    AudioFileWriter writer(output, format.rate_hz, format.channels, config_.output_type);

    FileOutcome outcome;
    const std::size_t block = chains.block();
    std::vector<float> in(block * channels);
    std::vector<float> out(block * channels);
    std::uint64_t frames = 0;
    std::uint64_t to_skip = delay.samples;  // frames of the chain's delay still to cut
    std::uint64_t written = 0;
    bool input_ended = false;
    while (!input_ended || written < frames) {
        if (stop.load(std::memory_order_acquire)) throw BatchInterrupted();
        std::size_t got = 0;
        if (!input_ended) {
            got = reader.read_frames(in);
            require_finite(std::span<const float>(in).first(got * channels), channels, frames, input);
            frames += got;
            input_ended = got < block;
        }
        std::fill(in.begin() + static_cast<std::ptrdiff_t>(got * channels), in.end(), 0.0f);
        const double cpu0 = thread_cpu_seconds();
        chains.step(in, out);
        outcome.process_cpu_seconds += thread_cpu_seconds() - cpu0;

        const std::uint64_t skip = std::min<std::uint64_t>(to_skip, block);
        to_skip -= skip;
        const std::uint64_t keep =
            std::min<std::uint64_t>(block - skip, input_ended ? frames - written : block - skip);
        writer.write(std::span<const float>(out).subspan(skip * channels, keep * channels));
        written += keep;
    }
    writer.commit();
    outcome.audio_seconds = static_cast<double>(frames) / format.rate_hz;
    return outcome;
}

}  // namespace statestream::engine::batch
