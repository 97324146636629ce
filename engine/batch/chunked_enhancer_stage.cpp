#include "engine/batch/chunked_enhancer_stage.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/core.h>

#include "dsp/log_compress.hpp"
#include "dsp/window.hpp"

namespace statestream::engine::batch {

namespace {

// The model's STFT, as LinkedEnhancer builds it: its window, F = N.
dsp::StftConfig stft_config_of(const models::SsmModel& model) {
    const models::FrontendSpec& frontend = model.file().description().frontend;
    dsp::StftConfig config;
    config.window = dsp::parse_window_shape(frontend.window).value_or(dsp::WindowShape::kHann);
    config.window_samples = frontend.window_samples;
    config.hop_samples = frontend.hop_samples;
    config.fft_size = frontend.window_samples;
    return config;
}

const models::SsmModel& checked(const models::SsmModel& model, const EnhancerSettings& settings,
                                std::size_t hops) {
    validate(settings);
    require_enhancer_model(model);
    if (hops == 0) throw std::invalid_argument("a chunked enhancer block holds at least one hop");
    return model;
}

float sigmoid(float x) noexcept { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

ChunkedEnhancerStage::ChunkedEnhancerStage(const models::SsmModel& model,
                                           const EnhancerSettings& settings,
                                           std::size_t hops_per_block)
    : model_(&checked(model, settings, hops_per_block)),
      settings_(settings),
      gain_floor_(gain_floor_of(settings)),
      hop_(model.file().description().frontend.hop_samples),
      hops_(hops_per_block),
      shape_{1, static_cast<double>(model.file().description().frontend.sample_rate_hz),
             hops_per_block * model.file().description().frontend.hop_samples},
      analysis_(stft_config_of(model)),
      synthesis_(stft_config_of(model)),
      bands_(dsp::erb_filterbank(model.file().description().frontend.sample_rate_hz,
                                 stft_config_of(model).resolved_fft_size(),
                                 model.file().description().frontend.n_bands)),
      state_(model.make_state()),
      workspace_(model, hops_per_block),
      spectra_(hops_per_block * analysis_.bins()),
      features_(hops_per_block * bands_.bands()),
      gains_(hops_per_block * bands_.bands()),
      power_(analysis_.bins()),
      bin_gains_(analysis_.bins()) {}

std::string ChunkedEnhancerStage::describe() const {
    const auto& frontend = model_->file().description().frontend;
    return fmt::format("enhance {} Hz in blocks of {} hops, one forward() each ({} {}/{}, {} ERB "
                       "bands, {} layers), strength {:g}",
                       frontend.sample_rate_hz, hops_, frontend.window, frontend.window_samples,
                       frontend.hop_samples, frontend.n_bands, model_->architecture().layers.size(),
                       settings_.strength);
}

std::string ChunkedEnhancerStage::identity() const {
    return describe() + ", weights " + model_->file().fingerprint();
}

double ChunkedEnhancerStage::latency_seconds() const noexcept {
    return static_cast<double>(synthesis_.latency_samples()) / shape_.rate_hz;
}

void ChunkedEnhancerStage::process(std::span<const float> in, std::span<float> out) noexcept {
    const std::size_t bins = analysis_.bins();
    const std::size_t n_bands = bands_.bands();
    // 1. Analysis of every hop: the features do not depend on any gain.
    for (std::size_t k = 0; k < hops_; ++k) {
        const std::span<std::complex<float>> spectrum(spectra_.data() + k * bins, bins);
        const std::span<float> features(features_.data() + k * n_bands, n_bands);
        analysis_.process(in.subspan(k * hop_, hop_), spectrum);
        dsp::power_spectrum(spectrum, power_);
        bands_.band_energies(power_, features);
        dsp::log_compress(features, features);
    }
    // 2. The model over the whole block: features {hops, bands} -> gains {hops, bands}.
    model_->forward(state_, workspace_, features_, gains_);
    // 3. Gains and synthesis, hop by hop, as LinkedEnhancer::process_hop does.
    for (std::size_t k = 0; k < hops_; ++k) {
        const std::span<float> gains(gains_.data() + k * n_bands, n_bands);
        for (float& gain : gains) {
            gain = 1.0f - settings_.strength * (1.0f - sigmoid(gain));
            gain = std::max(gain, gain_floor_);
        }
        bands_.interpolate(gains, bin_gains_);
        const std::span<std::complex<float>> spectrum(spectra_.data() + k * bins, bins);
        dsp::apply_bin_gains(bin_gains_, spectrum);
        synthesis_.process(spectrum, out.subspan(k * hop_, hop_));
    }
}

std::size_t ChunkedEnhancerStage::state_floats() const noexcept {
    return analysis_.state_floats() + synthesis_.state_floats() + state_.values.size();
}

void ChunkedEnhancerStage::save_state(std::span<float> out) const noexcept {
    analysis_.save_state(out.first(analysis_.state_floats()));
    out = out.subspan(analysis_.state_floats());
    synthesis_.save_state(out.first(synthesis_.state_floats()));
    out = out.subspan(synthesis_.state_floats());
    std::copy(state_.values.begin(), state_.values.end(), out.begin());
}

void ChunkedEnhancerStage::restore_state(std::span<const float> in) noexcept {
    analysis_.restore_state(in.first(analysis_.state_floats()));
    in = in.subspan(analysis_.state_floats());
    synthesis_.restore_state(in.first(synthesis_.state_floats()));
    in = in.subspan(synthesis_.state_floats());
    std::copy_n(in.begin(), state_.values.size(), state_.values.begin());
}

void ChunkedEnhancerStage::reset() noexcept {
    analysis_.reset();
    synthesis_.reset();
    std::fill(state_.values.begin(), state_.values.end(), 0.0f);
}

}  // namespace statestream::engine::batch
