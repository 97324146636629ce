#pragma once
// The speech enhancer as one stage: audio in, enhanced audio out, at the model's rate. Per hop:
//
//   STFT (the model's window, F = N) -> ERB band energies -> ln(E + 1e-6) -> model step
//     -> sigmoid -> band gains (strength, attenuation floor) -> gains on the bins -> iSTFT
//
// exactly the chain models/train/enhance/model.py trains (docs/enhance.md). The output lags
// the input by N - H samples (the overlap-add), which latency_seconds() reports and
// measure_impulse_delay (engine/enhancer_chain.hpp) confirms.

#include <complex>
#include <vector>

#include "dsp/stft.hpp"
#include "dsp/triangular_filterbank.hpp"
#include "engine/stage.hpp"
#include "models/ssm_model.hpp"

namespace statestream::engine {

// What a user turns: how much of the model's suppression to apply, and how deep it may go.
struct EnhancerSettings {
    // 0 passes the input through (after the chain's delay), 1 applies the model's gains as
    // trained; gain = 1 - strength * (1 - model gain).
    float strength = 1.0f;
    // No band is attenuated by more than this (dB); 0 or less means no limit.
    float attenuation_limit_db = 0.0f;
};

// Thread: setup. Throws std::invalid_argument naming the setting and its range.
void validate(const EnhancerSettings& settings);

// Thread: setup. Throws std::invalid_argument naming the model file when it is not an
// enhancer (task enhance, front-end stft_bands with a sigmoid gain, input = output = n_bands).
void require_enhancer_model(const models::SsmModel& model);

class EnhancerStage final : public Stage {
public:
    // Thread: setup. `model` must outlive the stage; several stages (channels, streams) may
    // share it. Each step takes `hops_per_block` hops of audio at the model's sample rate.
    EnhancerStage(const models::SsmModel& model, const EnhancerSettings& settings,
                  std::size_t hops_per_block = 1);

    [[nodiscard]] std::string describe() const override;
    [[nodiscard]] std::string identity() const override;
    [[nodiscard]] StageShape input() const noexcept override { return shape_; }
    [[nodiscard]] StageShape output() const noexcept override { return shape_; }
    [[nodiscard]] double latency_seconds() const noexcept override;
    void process(std::span<const float> in, std::span<float> out) noexcept override;

    [[nodiscard]] std::size_t state_floats() const noexcept override;
    void save_state(std::span<float> out) const noexcept override;
    void restore_state(std::span<const float> in) noexcept override;
    void reset() noexcept override;

    // The band gains applied to the last hop, for tests and meters.
    [[nodiscard]] std::span<const float> last_band_gains() const noexcept { return band_gains_; }

private:
    void process_hop(std::span<const float> in, std::span<float> out) noexcept;

    const models::SsmModel* model_;
    EnhancerSettings settings_;
    float gain_floor_ = 0.0f;
    StageShape shape_;
    dsp::StftAnalysis analysis_;
    dsp::StftSynthesis synthesis_;
    dsp::TriangularFilterbank bands_;
    models::StreamState state_;
    models::ModelWorkspace workspace_;
    // Per-hop scratch, preallocated.
    std::vector<std::complex<float>> spectrum_;
    std::vector<float> power_;
    std::vector<float> features_;
    std::vector<float> band_gains_;
    std::vector<float> bin_gains_;
};

}  // namespace statestream::engine
