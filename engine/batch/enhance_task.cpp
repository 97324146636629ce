#include "engine/batch/enhance_task.hpp"

#include <map>
#include <mutex>

#include <fmt/core.h>

#include "engine/enhance_file.hpp"

namespace statestream::engine::batch {

// The chain's delay at each rate, measured once per rate for the whole batch: the impulse
// runs about 1.5 s of audio through a fresh chain, as much work as a short file itself. Every
// file of a task has the same settings and model calls, so the rate is the whole key.
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
    // The output's extension is output_extension(), so enhance_file writes config_.output_type.
    const EnhanceFileReport report = enhance_file(
        *model_, input, output, config_.settings, file_run_options(config_.calls, config_.chunk_hops, stop),
        [this](const models::SsmModel& model, const EnhancerChainConfig& chain) {
            return delays_->at(model, chain);
        });
    return {static_cast<double>(report.frames) / report.format.rate_hz, report.process_cpu_seconds};
}

}  // namespace statestream::engine::batch
