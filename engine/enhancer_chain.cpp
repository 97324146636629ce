#include "engine/enhancer_chain.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include <fmt/core.h>

#include "engine/stages/resample_stage.hpp"

namespace statestream::engine {

namespace {

constexpr std::uint32_t kMinRateHz = 8000;
constexpr std::uint32_t kMaxRateHz = 192000;
constexpr std::size_t kMaxHopsPerBlock = 64;

// The fewest hops whose duration is a whole number of samples at `rate_hz`.
std::size_t hops_per_block(std::uint64_t hop, std::uint64_t model_rate, std::uint64_t rate_hz) {
    for (std::size_t hops = 1; hops <= kMaxHopsPerBlock; ++hops) {
        if ((hops * hop * rate_hz) % model_rate == 0) return hops;
    }
    throw std::invalid_argument(fmt::format(
        "{} Hz does not share a block of at most {} hops with the model's {} Hz; resample the "
        "input to a common rate (16000, 44100, 48000) first", rate_hz, kMaxHopsPerBlock, model_rate));
}

}  // namespace

std::unique_ptr<Pipeline> make_enhancer_chain(const models::SsmModel& model,
                                              const EnhancerChainConfig& config) {
    require_enhancer_model(model);
    if (config.rate_hz < kMinRateHz || config.rate_hz > kMaxRateHz) {
        throw std::invalid_argument(fmt::format("{} Hz is outside the {}..{} Hz the enhancer takes",
                                                config.rate_hz, kMinRateHz, kMaxRateHz));
    }
    const auto& frontend = model.file().description().frontend;
    const std::uint32_t model_rate = frontend.sample_rate_hz;
    const std::size_t base = hops_per_block(frontend.hop_samples, model_rate, config.rate_hz);
    const std::size_t hops = config.calls == ModelCalls::kChunked
                                 ? (std::max<std::size_t>(config.chunk_hops, 1) + base - 1) / base * base
                                 : base;
    std::vector<std::unique_ptr<Stage>> stages;
    auto enhancer = std::make_unique<EnhancerStage>(model, config.settings, hops, config.calls);
    if (config.rate_hz == model_rate) {
        stages.push_back(std::move(enhancer));
        return std::make_unique<Pipeline>(std::move(stages));
    }
    const std::size_t block_at_rate = hops * frontend.hop_samples * config.rate_hz / model_rate;
    stages.push_back(std::make_unique<ResampleStage>(config.rate_hz, model_rate, block_at_rate,
                                                     config.resampler_quality));
    stages.push_back(std::move(enhancer));
    stages.push_back(std::make_unique<ResampleStage>(model_rate, config.rate_hz,
                                                     hops * frontend.hop_samples,
                                                     config.resampler_quality));
    return std::make_unique<Pipeline>(std::move(stages));
}

MeasuredDelay measure_impulse_delay(const models::SsmModel& model,
                                    const EnhancerChainConfig& config) {
    const std::unique_ptr<Pipeline> chain = make_enhancer_chain(model, config);
    const std::size_t block = chain->input().block;
    const std::size_t lead = ((config.rate_hz / 2 + block - 1) / block) * block;
    const std::size_t total = lead + 2 * ((config.rate_hz / 2 + block - 1) / block) * block;
    // Low noise before the impulse gives the model a realistic state instead of digital silence.
    std::vector<float> input(total, 0.0f);
    std::minstd_rand generator(7);
    std::normal_distribution<float> noise(0.0f, 1e-4f);
    for (std::size_t i = 0; i < lead; ++i) input[i] = noise(generator);
    const std::size_t impulse_at = lead + block / 2;
    input[impulse_at] = 1.0f;

    std::vector<float> output(total);
    for (std::size_t at = 0; at < total; at += block) {
        chain->step(std::span<const float>(input).subspan(at, block),
                    std::span<float>(output).subspan(at, block));
    }
    std::size_t peak = impulse_at;
    for (std::size_t i = impulse_at; i < total; ++i) {
        if (std::abs(output[i]) > std::abs(output[peak])) peak = i;
    }
    MeasuredDelay delay;
    delay.samples = peak - impulse_at;
    delay.seconds = static_cast<double>(delay.samples) / config.rate_hz;
    delay.stages_seconds = chain->latency_seconds();
    return delay;
}

}  // namespace statestream::engine
