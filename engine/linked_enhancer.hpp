#pragma once
// The speech enhancer at the model's rate (48 kHz for the shipped one) for one or more channels
// that share one set of band gains, with settings that may change between hops. Per hop:
//
//   each channel: STFT -> power spectrum;  the channels' mean power -> ERB band energies
//     -> ln(E + 1e-6) -> model step -> sigmoid -> band gains (strength, attenuation floor)
//   each channel: the same gains on its bins -> iSTFT
//
// exactly the chain models/train/enhance/model.py trains (docs/enhance.md); EnhancerStage is its
// one-channel use in pipelines, the LV2 plugin its linked-stereo use with live settings. Linked
// gains keep a stereo image where it is: both sides of a band go down by the same amount, so a
// source does not wander towards the side that happens to be quieter.
//
// Files may run the model once per block of hops (process_block, SsmModel::forward()) instead
// of once per hop (process_hop, step()). That is exact because nothing the model reads depends
// on a gain it returned: the analysis of every hop of a block runs first, then one forward()
// over the block's features, then the gains and the synthesis hop by hop.

#include <complex>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "dsp/stft.hpp"
#include "dsp/triangular_filterbank.hpp"
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

// The lowest band gain an attenuation limit allows: 10^(-limit/20); no floor (0) for a limit
// of 0 dB or less, the engine's "no limit" (EnhancerSettings).
[[nodiscard]] float gain_floor_of(const EnhancerSettings& settings) noexcept;

class LinkedEnhancer {
public:
    // Thread: setup. `model` must outlive the enhancer. block_hops is the most hops one
    // process_block() call takes (the rows of its forward()); live use, which only calls
    // process_hop(), keeps 1. Throws std::invalid_argument when the model is not an enhancer
    // (require_enhancer_model), a setting is out of range, or channels or block_hops is 0.
    LinkedEnhancer(const models::SsmModel& model, std::size_t channels,
                   const EnhancerSettings& settings = {}, std::size_t block_hops = 1);

    [[nodiscard]] std::size_t channels() const noexcept { return channels_.size(); }
    [[nodiscard]] std::uint32_t rate_hz() const noexcept { return rate_hz_; }
    [[nodiscard]] std::size_t hop_samples() const noexcept { return hop_; }
    [[nodiscard]] std::size_t block_hops() const noexcept { return block_hops_; }
    // The overlap-add's N - H samples: where an impulse comes out.
    [[nodiscard]] std::size_t latency_samples() const noexcept;

    // Thread: real-time. From the next hop on. strength in 0..1 (the engine's meaning), floor in
    // 0..1: no band gain goes below it (0: no floor).
    void set_strength(float strength) noexcept { strength_ = strength; }
    void set_gain_floor(float floor) noexcept { gain_floor_ = floor; }
    [[nodiscard]] float strength() const noexcept { return strength_; }
    [[nodiscard]] float gain_floor() const noexcept { return gain_floor_; }

    // Thread: real-time. One hop of every channel: in[c] and out[c] point at hop_samples()
    // floats; in.size() == out.size() == channels(). An output may be its own channel's input.
    void process_hop(std::span<const float* const> in, std::span<float* const> out) noexcept;

    // Thread: worker. `hops` hops of every channel (1 <= hops <= block_hops()) with one
    // forward() over their features: in[c] and out[c] point at hops * hop_samples() floats. Equal
    // to `hops` process_hop() calls up to forward()'s float rounding, state included. An output
    // may be its own channel's input (every hop is analysed before any is written). Allocates
    // nothing.
    void process_block(std::span<const float* const> in, std::span<float* const> out,
                       std::size_t hops) noexcept;

    // The band gains applied to the last hop, for tests and meters.
    [[nodiscard]] std::span<const float> last_band_gains() const noexcept {
        return std::span<const float>(band_gains_).subspan(last_hop_ * bands_.bands(), bands_.bands());
    }

    // Thread: setup (not concurrently with process_hop). A fresh stream: STFT history, overlap
    // tails and the model's state at zero.
    void reset() noexcept;

    // The stream's state (dsp/stateful.hpp's contract): per channel the STFT history and the
    // overlap tail, then the model's state.
    [[nodiscard]] std::size_t state_floats() const noexcept;
    void save_state(std::span<float> out) const noexcept;
    void restore_state(std::span<const float> in) noexcept;

private:
    struct Channel {
        Channel(const dsp::StftConfig& config, std::size_t block_hops)
            : analysis(config), synthesis(config), spectra(block_hops * analysis.bins()) {}
        dsp::StftAnalysis analysis;
        dsp::StftSynthesis synthesis;
        std::vector<std::complex<float>> spectra;  // {block_hops, bins}: kept until the gains come
    };

    // Hop k of a block: every channel's STFT into its spectra row k, their mean power's log band
    // energies into features_ row k.
    void analyse_hop(std::span<const float* const> in, std::size_t k) noexcept;
    // Hop k of a block: band_gains_ row k from the model's output there, applied to every
    // channel's spectra row k, and the iSTFT into out[c] + k * hop_.
    void synthesise_hop(std::span<float* const> out, std::size_t k) noexcept;

    const models::SsmModel* model_;
    std::uint32_t rate_hz_;
    std::size_t hop_;
    std::size_t block_hops_;
    float strength_ = 1.0f;
    float gain_floor_ = 0.0f;
    std::vector<std::unique_ptr<Channel>> channels_;
    dsp::TriangularFilterbank bands_;
    models::StreamState state_;
    models::ModelWorkspace workspace_;  // block_hops_ rows
    // Scratch, preallocated.
    std::vector<float> power_;          // {bins}
    std::vector<float> channel_power_;  // {bins}
    std::vector<float> features_;       // {block_hops, bands}
    std::vector<float> band_gains_;     // {block_hops, bands}: the model's output, then the gains
    std::vector<float> bin_gains_;      // {bins}
    std::size_t last_hop_ = 0;          // band_gains_ row of the last hop processed
};

}  // namespace statestream::engine
