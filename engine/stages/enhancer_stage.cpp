#include "engine/stages/enhancer_stage.hpp"

#include <stdexcept>

#include <fmt/core.h>

namespace statestream::engine {

namespace {

std::size_t checked_hops(std::size_t hops_per_block) {
    if (hops_per_block == 0) throw std::invalid_argument("an enhancer block holds at least one hop");
    return hops_per_block;
}

}  // namespace

EnhancerStage::EnhancerStage(const models::SsmModel& model, const EnhancerSettings& settings,
                             std::size_t hops_per_block, ModelCalls calls)
    : model_(&model),
      settings_(settings),
      calls_(calls),
      // Step by step keeps one row of model scratch, as a live stream does.
      enhancer_(model, 1, settings, calls == ModelCalls::kChunked ? checked_hops(hops_per_block) : 1),
      shape_{1, static_cast<double>(enhancer_.rate_hz()),
             checked_hops(hops_per_block) * enhancer_.hop_samples()} {}

std::string EnhancerStage::describe() const {
    const auto& frontend = model_->file().description().frontend;
    const std::string calls =
        calls_ == ModelCalls::kChunked
            ? fmt::format(" in blocks of {} hops, one forward() each", enhancer_.block_hops())
            : std::string();
    std::string text = fmt::format(
        "enhance {} Hz{} ({} {}/{}, {} ERB bands, {} layers), strength {:g}",
        frontend.sample_rate_hz, calls, frontend.window, frontend.window_samples,
        frontend.hop_samples, frontend.n_bands, model_->architecture().layers.size(),
        settings_.strength);
    if (enhancer_.gain_floor() > 0.0f) {
        text += fmt::format(", at most {:g} dB", settings_.attenuation_limit_db);
    }
    return text;
}

std::string EnhancerStage::identity() const {
    return describe() + ", weights " + model_->file().fingerprint();
}

double EnhancerStage::latency_seconds() const noexcept {
    return static_cast<double>(enhancer_.latency_samples()) / shape_.rate_hz;
}

void EnhancerStage::process(std::span<const float> in, std::span<float> out) noexcept {
    if (calls_ == ModelCalls::kChunked) {
        const float* block_in = in.data();
        float* block_out = out.data();
        enhancer_.process_block(std::span<const float* const>(&block_in, 1),
                                std::span<float* const>(&block_out, 1), enhancer_.block_hops());
        return;
    }
    const std::size_t hop = enhancer_.hop_samples();
    for (std::size_t at = 0; at < shape_.block; at += hop) {
        const float* hop_in = in.data() + at;
        float* hop_out = out.data() + at;
        enhancer_.process_hop(std::span<const float* const>(&hop_in, 1),
                              std::span<float* const>(&hop_out, 1));
    }
}

}  // namespace statestream::engine
