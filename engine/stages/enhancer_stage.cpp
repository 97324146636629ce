#include "engine/stages/enhancer_stage.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/core.h>

#include "dsp/log_compress.hpp"
#include "dsp/window.hpp"

namespace statestream::engine {

namespace {

dsp::StftConfig stft_config_of(const models::SsmModel& model) {
    const models::FrontendSpec& frontend = model.file().description().frontend;
    dsp::StftConfig config;
    // require_enhancer_model checked the name; value_or keeps this total.
    config.window = dsp::parse_window_shape(frontend.window).value_or(dsp::WindowShape::kHann);
    config.window_samples = frontend.window_samples;
    config.hop_samples = frontend.hop_samples;
    config.fft_size = frontend.window_samples;
    return config;
}

float sigmoid(float x) noexcept { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

void validate(const EnhancerSettings& settings) {
    if (!(settings.strength >= 0.0f && settings.strength <= 1.0f)) {
        throw std::invalid_argument(fmt::format(
            "strength {} is outside 0..1 (0 passes the input through, 1 applies the model fully)",
            settings.strength));
    }
    if (!std::isfinite(settings.attenuation_limit_db)) {
        throw std::invalid_argument("the attenuation limit must be a finite number of dB (0: none)");
    }
}

void require_enhancer_model(const models::SsmModel& model) {
    const models::ModelDescription& description = model.file().description();
    const models::FrontendSpec& frontend = description.frontend;
    const std::string& source = model.file().source();
    if (description.task != models::Task::kEnhance) {
        throw std::invalid_argument(fmt::format(
            "{}: is a \"{}\" model, not an enhancer (task \"enhance\"); give --model an enhancer "
            "such as data/models/enhancer.safetensors",
            source, models::task_name(description.task)));
    }
    if (frontend.type != models::FrontendType::kStftBands ||
        frontend.gain != models::BandGain::kSigmoid) {
        throw std::invalid_argument(fmt::format(
            "{}: an enhancer needs the stft_bands front-end with a sigmoid gain, this one has "
            "front-end \"{}\" (docs/model_format.md)",
            source, models::frontend_type_name(frontend.type)));
    }
    if (model.input_dim() != frontend.n_bands || model.output_dim() != frontend.n_bands) {
        throw std::invalid_argument(fmt::format(
            "{}: an enhancer maps {} bands to {} gains, but the model is {} -> {}", source,
            frontend.n_bands, frontend.n_bands, model.input_dim(), model.output_dim()));
    }
}

EnhancerStage::EnhancerStage(const models::SsmModel& model, const EnhancerSettings& settings,
                             std::size_t hops_per_block)
    : model_(&model),
      settings_((validate(settings), require_enhancer_model(model), settings)),
      gain_floor_(settings.attenuation_limit_db > 0.0f
                      ? std::pow(10.0f, -settings.attenuation_limit_db / 20.0f)
                      : 0.0f),
      shape_{1, static_cast<double>(model.file().description().frontend.sample_rate_hz),
             hops_per_block * model.file().description().frontend.hop_samples},
      analysis_(stft_config_of(model)),
      synthesis_(stft_config_of(model)),
      bands_(dsp::erb_filterbank(shape_.rate_hz, stft_config_of(model).resolved_fft_size(),
                                 model.file().description().frontend.n_bands)),
      state_(model.make_state()),
      workspace_(model, 1),
      spectrum_(analysis_.bins()),
      power_(analysis_.bins()),
      features_(bands_.bands()),
      band_gains_(bands_.bands(), 1.0f),
      bin_gains_(analysis_.bins()) {
    if (hops_per_block == 0) throw std::invalid_argument("an enhancer block holds at least one hop");
}

std::string EnhancerStage::describe() const {
    const auto& frontend = model_->file().description().frontend;
    std::string text = fmt::format(
        "enhance {} Hz ({} {}/{}, {} ERB bands, {} layers), strength {:g}", frontend.sample_rate_hz,
        frontend.window, frontend.window_samples, frontend.hop_samples, frontend.n_bands,
        model_->architecture().layers.size(), settings_.strength);
    if (gain_floor_ > 0.0f) text += fmt::format(", at most {:g} dB", settings_.attenuation_limit_db);
    return text;
}

std::string EnhancerStage::identity() const {
    return describe() + ", weights " + model_->file().fingerprint();
}

double EnhancerStage::latency_seconds() const noexcept {
    return static_cast<double>(synthesis_.latency_samples()) / shape_.rate_hz;
}

void EnhancerStage::process(std::span<const float> in, std::span<float> out) noexcept {
    const std::size_t hop = analysis_.hop();
    for (std::size_t at = 0; at < shape_.block; at += hop) {
        process_hop(in.subspan(at, hop), out.subspan(at, hop));
    }
}

void EnhancerStage::process_hop(std::span<const float> in, std::span<float> out) noexcept {
    analysis_.process(in, spectrum_);
    dsp::power_spectrum(spectrum_, power_);
    bands_.band_energies(power_, features_);
    dsp::log_compress(features_, features_);
    model_->step(state_, workspace_, features_, band_gains_);
    for (float& gain : band_gains_) {
        gain = 1.0f - settings_.strength * (1.0f - sigmoid(gain));
        gain = std::max(gain, gain_floor_);
    }
    bands_.interpolate(band_gains_, bin_gains_);
    dsp::apply_bin_gains(bin_gains_, spectrum_);
    synthesis_.process(spectrum_, out);
}

std::size_t EnhancerStage::state_floats() const noexcept {
    return analysis_.state_floats() + synthesis_.state_floats() + state_.values.size();
}

void EnhancerStage::save_state(std::span<float> out) const noexcept {
    analysis_.save_state(out.first(analysis_.state_floats()));
    out = out.subspan(analysis_.state_floats());
    synthesis_.save_state(out.first(synthesis_.state_floats()));
    out = out.subspan(synthesis_.state_floats());
    std::copy(state_.values.begin(), state_.values.end(), out.begin());
}

void EnhancerStage::restore_state(std::span<const float> in) noexcept {
    analysis_.restore_state(in.first(analysis_.state_floats()));
    in = in.subspan(analysis_.state_floats());
    synthesis_.restore_state(in.first(synthesis_.state_floats()));
    in = in.subspan(synthesis_.state_floats());
    std::copy(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(state_.values.size()),
              state_.values.begin());
}

void EnhancerStage::reset() noexcept {
    analysis_.reset();
    synthesis_.reset();
    std::fill(state_.values.begin(), state_.values.end(), 0.0f);
    std::fill(band_gains_.begin(), band_gains_.end(), 1.0f);
}

}  // namespace statestream::engine
