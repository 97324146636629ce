#pragma once
// The statestream part of a model file's "__metadata__": format version, task, feature
// front-end, architecture and training recipe. Safetensors metadata values are strings, so the
// structured entries are JSON documents stored as strings (docs/model_format.md).

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "models/architecture.hpp"

namespace statestream::models {

// The metadata layout this build reads. A file of another version is refused by name.
inline constexpr int kModelFormatVersion = 1;

enum class Task { kTest, kEnhance, kTranscribe, kForecast };
[[nodiscard]] std::string_view task_name(Task task) noexcept;

enum class FrontendType { kNone, kLogMel, kStftBands, kTicks };
[[nodiscard]] std::string_view frontend_type_name(FrontendType type) noexcept;

// How an stft_bands model's outputs become band gains in [0, 1].
enum class BandGain { kNone, kSigmoid };
[[nodiscard]] std::string_view band_gain_name(BandGain gain) noexcept;

// What turns raw input into the model's input_dim features each step. Fields that a type does
// not use stay 0.
struct FrontendSpec {
    FrontendType type = FrontendType::kNone;
    std::uint32_t sample_rate_hz = 0;   // audio front-ends
    std::uint32_t window_samples = 0;
    std::uint32_t hop_samples = 0;      // one model step per hop
    std::uint32_t n_bands = 0;          // mel bands or gain bands
    // stft_bands only: the analysis/synthesis window ("hann", "sqrt_hann" or "vorbis", the names
    // dsp/window.hpp parses) and the gain activation.
    std::string window;
    BandGain gain = BandGain::kNone;
};

struct Recipe {
    std::string name;     // e.g. "tiny-random"
    std::string script;   // the script that produced the file, relative to the repository
    std::string commit;   // source commit of the script
    std::uint64_t seed = 0;
};

// Forecasting models only: metadata key "forecast", the contract of docs/forecast.md (features
// ticks-v1, quantile head, online adaptation). Every field is required there; all 0 for other
// tasks. Version 2 changed the adaptation (offsets from the residual mean, breaks, pull-back).
inline constexpr int kForecastSpecVersion = 2;
inline constexpr std::uint32_t kForecastInputDim = 6;      // the six ticks-v1 features
inline constexpr std::uint32_t kForecastQuantiles = 3;     // q10, q50, q90 per horizon
inline constexpr std::uint32_t kForecastMaxHorizon = 256;
inline constexpr std::uint32_t kForecastMaxSeason = 1024;
inline constexpr std::uint32_t kForecastMaxPullbackTicks = 1024;

struct ForecastSpec {
    std::uint32_t version = 0;
    std::uint32_t horizon = 0;                   // H: horizons 1..H, in ticks of the stream
    std::array<double, kForecastQuantiles> quantiles{};  // strictly increasing, middle 0.5
    double scale_tau = 0.0;                      // ticks, of the difference scale
    double level_tau = 0.0;                      // ticks, of the level mean
    double dt_tau = 0.0;                         // ticks, of the mean log time step
    std::uint32_t max_season = 0;                // largest season P a stream may be given
    double adapt_offset_rate = 0.0;              // rho: EW rate of the residual mean, in [0, 1]
    double adapt_width_rate = 0.0;               // eta_g
    double coverage = 0.0;                       // target coverage of [q10, q90]
    double adapt_break_sigmas = 0.0;             // a 1-step miss beyond it (scales) is a break
    double adapt_shift_sigmas = 0.0;             // ... and beyond this one a shift
    std::uint32_t adapt_pullback_ticks = 0;      // forecasts from a shift on that use beta
    double adapt_pullback_prior = 0.0;           // w0: weight of beta = 1 in its estimate
};

struct ModelDescription {
    int format_version = kModelFormatVersion;
    Task task = Task::kTest;
    FrontendSpec frontend;
    Architecture architecture;
    Recipe recipe;
    // Transcription models: what each output means, index 0 the CTC blank (""), one entry per
    // output. Empty for other tasks.
    std::vector<std::string> labels;
    // Forecasting models: the "forecast" entry. Zero for other tasks.
    ForecastSpec forecast;
};

// Thread: setup. Reads and range-checks every field; throws ModelFileError that names `source`,
// the metadata path ("architecture.layers[1].head_dim") and the allowed range.
[[nodiscard]] ModelDescription parse_model_description(
    const std::map<std::string, std::string>& metadata, const std::string& source);

}  // namespace statestream::models
