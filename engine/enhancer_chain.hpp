#pragma once
// The enhancer at any sample rate: the model runs at its own rate (48 kHz for the shipped one),
// so other rates are resampled in and back out around it:
//
//   rate -> resample -> EnhancerStage (model rate) -> resample -> rate
//
// Live streams call the model once per hop; files may call it once per block of hops
// (engine/file_run_options.hpp), with the same resamplers around it.
//
// Latency is measured, not counted: measure_impulse_delay sends an impulse through a fresh
// copy of the whole chain (resamplers, framing, model, overlap-add) and finds where it comes
// out. Files are aligned by that figure; the LV2 plugin reports it to hosts.

#include <cstdint>
#include <memory>

#include "dsp/stream_resampler.hpp"
#include "engine/file_run_options.hpp"
#include "engine/pipeline.hpp"
#include "engine/stages/enhancer_stage.hpp"

namespace statestream::engine {

struct EnhancerChainConfig {
    std::uint32_t rate_hz = 48000;  // the audio's rate, in and out
    EnhancerSettings settings;
    // Live streams take the cheaper filter; files the best (docs/enhance.md).
    dsp::ResamplerQuality resampler_quality = dsp::ResamplerQuality::kMedium;
    ModelCalls calls = ModelCalls::kStepByStep;
    std::size_t chunk_hops = kFileChunkHops;  // kChunked: the least hops per forward()
};

// Thread: setup. One stream's chain; its block is the fewest whole model hops that are also a
// whole number of samples at rate_hz (one 10 ms hop at 8/16/44.1/48 kHz; two, 20 ms, at 22.05 kHz).
// kChunked: the block is chunk_hops rounded up to a multiple of that, and the model runs once
// per block through forward().
// Throws std::invalid_argument when the model is not an enhancer, a setting is out of range,
// or the rate is outside 8..192 kHz.
[[nodiscard]] std::unique_ptr<Pipeline> make_enhancer_chain(const models::SsmModel& model,
                                                            const EnhancerChainConfig& config);

struct MeasuredDelay {
    std::size_t samples = 0;        // at the chain's rate: output index of the impulse - input index
    double seconds = 0.0;
    double stages_seconds = 0.0;    // the stages' own claim (Pipeline::latency_seconds)
};

// Thread: setup (allocates, runs a fresh chain for about a second of audio). An impulse after
// half a second of low noise; the delay is where the output's largest magnitude lands.
[[nodiscard]] MeasuredDelay measure_impulse_delay(const models::SsmModel& model,
                                                  const EnhancerChainConfig& config);

}  // namespace statestream::engine
