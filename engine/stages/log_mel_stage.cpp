#include "engine/stages/log_mel_stage.hpp"

#include <fmt/core.h>

namespace statestream::engine {

LogMelStage::LogMelStage(const dsp::LogMelConfig& config) : config_(config), frontend_(config) {}

std::string LogMelStage::describe() const {
    return fmt::format("log-mel {} bands, window {} / hop {} at {} Hz", config_.bands,
                       config_.window_samples, config_.hop_samples, config_.rate_hz);
}

StageShape LogMelStage::input() const noexcept { return {1, config_.rate_hz, config_.hop_samples}; }

StageShape LogMelStage::output() const noexcept {
    return {config_.bands, config_.rate_hz / static_cast<double>(config_.hop_samples), 1};
}

}  // namespace statestream::engine
