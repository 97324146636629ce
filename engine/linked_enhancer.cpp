#include "engine/linked_enhancer.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/core.h>

#include "dsp/log_compress.hpp"
#include "dsp/window.hpp"

namespace statestream::engine {

namespace {

// The model's STFT: its window, F = N.
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
                                std::size_t channels, std::size_t block_hops) {
    validate(settings);
    require_enhancer_model(model);
    if (channels == 0) throw std::invalid_argument("a linked enhancer needs at least one channel");
    if (block_hops == 0) throw std::invalid_argument("an enhancer block holds at least one hop");
    return model;
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

float gain_floor_of(const EnhancerSettings& settings) noexcept {
    return settings.attenuation_limit_db > 0.0f
               ? std::pow(10.0f, -settings.attenuation_limit_db / 20.0f)
               : 0.0f;
}

LinkedEnhancer::LinkedEnhancer(const models::SsmModel& model, std::size_t channels,
                               const EnhancerSettings& settings, std::size_t block_hops)
    : model_(&checked(model, settings, channels, block_hops)),
      rate_hz_(model.file().description().frontend.sample_rate_hz),
      hop_(model.file().description().frontend.hop_samples),
      block_hops_(block_hops),
      strength_(settings.strength),
      gain_floor_(gain_floor_of(settings)),
      bands_(dsp::erb_filterbank(rate_hz_, stft_config_of(model).resolved_fft_size(),
                                 model.file().description().frontend.n_bands)),
      state_(model.make_state()),
      workspace_(model, block_hops),
      power_(stft_config_of(model).bins()),
      channel_power_(stft_config_of(model).bins()),
      features_(block_hops * bands_.bands()),
      band_gains_(block_hops * bands_.bands(), 1.0f),
      bin_gains_(stft_config_of(model).bins()) {
    const dsp::StftConfig config = stft_config_of(model);
    for (std::size_t c = 0; c < channels; ++c) {
        channels_.push_back(std::make_unique<Channel>(config, block_hops));
    }
}

std::size_t LinkedEnhancer::latency_samples() const noexcept {
    return channels_.front()->synthesis.latency_samples();
}

void LinkedEnhancer::analyse_hop(std::span<const float* const> in, std::size_t k) noexcept {
    const std::size_t count = channels_.size();
    const std::size_t bins = power_.size();
    for (std::size_t c = 0; c < count; ++c) {
        Channel& channel = *channels_[c];
        const std::span<std::complex<float>> spectrum(channel.spectra.data() + k * bins, bins);
        channel.analysis.process(std::span<const float>(in[c] + k * hop_, hop_), spectrum);
        if (c == 0) {
            dsp::power_spectrum(spectrum, power_);
        } else {
            dsp::power_spectrum(spectrum, channel_power_);
            for (std::size_t b = 0; b < power_.size(); ++b) power_[b] += channel_power_[b];
        }
    }
    // The mean over channels; one channel keeps its power as it is.
    if (count > 1) {
        const float scale = 1.0f / static_cast<float>(count);
        for (float& p : power_) p *= scale;
    }
    const std::span<float> features(features_.data() + k * bands_.bands(), bands_.bands());
    bands_.band_energies(power_, features);
    dsp::log_compress(features, features);
}

void LinkedEnhancer::synthesise_hop(std::span<float* const> out, std::size_t k) noexcept {
    const std::span<float> gains(band_gains_.data() + k * bands_.bands(), bands_.bands());
    const float strength = strength_;
    const float floor = gain_floor_;
    for (float& gain : gains) {
        gain = 1.0f - strength * (1.0f - sigmoid(gain));
        gain = std::max(gain, floor);
    }
    bands_.interpolate(gains, bin_gains_);
    const std::size_t bins = power_.size();
    for (std::size_t c = 0; c < channels_.size(); ++c) {
        Channel& channel = *channels_[c];
        const std::span<std::complex<float>> spectrum(channel.spectra.data() + k * bins, bins);
        dsp::apply_bin_gains(bin_gains_, spectrum);
        channel.synthesis.process(spectrum, std::span<float>(out[c] + k * hop_, hop_));
    }
    last_hop_ = k;
}

void LinkedEnhancer::process_hop(std::span<const float* const> in,
                                 std::span<float* const> out) noexcept {
    analyse_hop(in, 0);
    const std::size_t n_bands = bands_.bands();
    model_->step(state_, workspace_, std::span<const float>(features_).first(n_bands),
                 std::span<float>(band_gains_).first(n_bands));
    synthesise_hop(out, 0);
}

void LinkedEnhancer::process_block(std::span<const float* const> in, std::span<float* const> out,
                                   std::size_t hops) noexcept {
    for (std::size_t k = 0; k < hops; ++k) analyse_hop(in, k);
    const std::size_t rows = hops * bands_.bands();
    // features {hops, bands} -> gains {hops, bands}
    model_->forward(state_, workspace_, std::span<const float>(features_).first(rows),
                    std::span<float>(band_gains_).first(rows));
    for (std::size_t k = 0; k < hops; ++k) synthesise_hop(out, k);
}

void LinkedEnhancer::reset() noexcept {
    for (auto& channel : channels_) {
        channel->analysis.reset();
        channel->synthesis.reset();
    }
    std::fill(state_.values.begin(), state_.values.end(), 0.0f);
    std::fill(band_gains_.begin(), band_gains_.end(), 1.0f);
    last_hop_ = 0;
}

std::size_t LinkedEnhancer::state_floats() const noexcept {
    std::size_t floats = state_.values.size();
    for (const auto& channel : channels_) {
        floats += channel->analysis.state_floats() + channel->synthesis.state_floats();
    }
    return floats;
}

void LinkedEnhancer::save_state(std::span<float> out) const noexcept {
    for (const auto& channel : channels_) {
        channel->analysis.save_state(out.first(channel->analysis.state_floats()));
        out = out.subspan(channel->analysis.state_floats());
        channel->synthesis.save_state(out.first(channel->synthesis.state_floats()));
        out = out.subspan(channel->synthesis.state_floats());
    }
    std::copy(state_.values.begin(), state_.values.end(), out.begin());
}

void LinkedEnhancer::restore_state(std::span<const float> in) noexcept {
    for (auto& channel : channels_) {
        channel->analysis.restore_state(in.first(channel->analysis.state_floats()));
        in = in.subspan(channel->analysis.state_floats());
        channel->synthesis.restore_state(in.first(channel->synthesis.state_floats()));
        in = in.subspan(channel->synthesis.state_floats());
    }
    std::copy_n(in.begin(), state_.values.size(), state_.values.begin());
}

}  // namespace statestream::engine
