#include "models/model_description.hpp"

#include <cmath>

#include <nlohmann/json.hpp>

#include "models/model_file_error.hpp"

namespace statestream::models {

namespace {

using Json = nlohmann::json;

// Limits far above any model we ship; they exist so that a hostile file cannot make the loader
// compute sizes that overflow or allocate gigabytes of state per stream.
constexpr std::uint32_t kMaxFeatureDim = 65536;
constexpr std::uint32_t kMaxModelDim = 16384;
constexpr std::size_t kMaxLayers = 256;
constexpr std::uint32_t kMaxStateDim = 1024;
constexpr std::uint32_t kMaxExpand = 8;
constexpr std::uint32_t kMaxConvTaps = 16;
constexpr std::uint32_t kMaxMimoRank = 16;
constexpr std::uint32_t kMaxWindow = 8192;

const char* const kReexportHint = " Re-export the model (docs/model_format.md).";

class MetadataReader {
public:
    MetadataReader(const std::map<std::string, std::string>& metadata, const std::string& source)
        : metadata_(metadata), source_(source) {}

    [[noreturn]] void fail(const std::string& where, const std::string& problem) const {
        throw ModelFileError(source_, "__metadata__." + where + " " + problem);
    }

    const std::string& text(const std::string& key) const {
        const auto it = metadata_.find(key);
        if (it == metadata_.end()) {
            throw ModelFileError(source_, "has no \"" + key + "\" in __metadata__: not a "
                                          "statestream model (docs/model_format.md)." +
                                          kReexportHint);
        }
        return it->second;
    }

    Json document(const std::string& key) const {
        const std::string& value = text(key);
        try {
            Json parsed = Json::parse(value);
            if (!parsed.is_object()) fail(key, "is not a JSON object.");
            return parsed;
        } catch (const Json::exception& error) {
            // parse_error for bad syntax, out_of_range for numbers no double holds (1e999).
            fail(key, std::string("is not valid JSON: ") + error.what());
        }
    }

    std::uint32_t integer(const Json& object, const std::string& where, const char* field,
                          std::uint32_t low, std::uint32_t high) const {
        const std::string path = where + "." + field;
        const auto it = object.find(field);
        if (it == object.end()) fail(path, "is missing.");
        if (!it->is_number_unsigned() || it->get<std::uint64_t>() < low ||
            it->get<std::uint64_t>() > high) {
            fail(path, "is " + it->dump() + ", expected an integer in " + std::to_string(low) +
                           ".." + std::to_string(high) + ".");
        }
        return static_cast<std::uint32_t>(it->get<std::uint64_t>());
    }

    std::uint32_t optional_integer(const Json& object, const std::string& where, const char* field,
                                   std::uint32_t low, std::uint32_t high,
                                   std::uint32_t absent) const {
        return object.contains(field) ? integer(object, where, field, low, high) : absent;
    }

    // A finite number with `accept` true, or a failure naming the range `range`.
    template <typename Accept>
    double number(const Json& object, const std::string& where, const char* field,
                  Accept accept, const char* range) const {
        const std::string path = where + "." + field;
        const auto it = object.find(field);
        if (it == object.end()) fail(path, "is missing.");
        if (!it->is_number() || !std::isfinite(it->get<double>()) || !accept(it->get<double>())) {
            fail(path, "is " + it->dump() + ", expected a number " + range + ".");
        }
        return it->get<double>();
    }

    std::string string_field(const Json& object, const std::string& where, const char* field,
                             bool required) const {
        const auto it = object.find(field);
        if (it == object.end()) {
            if (required) fail(where + "." + field, "is missing.");
            return {};
        }
        if (!it->is_string()) fail(where + "." + field, "is " + it->dump() + ", expected a string.");
        return it->get<std::string>();
    }

private:
    const std::map<std::string, std::string>& metadata_;
    const std::string& source_;
};

Task parse_task(const MetadataReader& reader) {
    const std::string& name = reader.text("task");
    if (name == "test") return Task::kTest;
    if (name == "enhance") return Task::kEnhance;
    if (name == "transcribe") return Task::kTranscribe;
    if (name == "forecast") return Task::kForecast;
    reader.fail("task", "is \"" + name + "\", expected one of test, enhance, transcribe, forecast.");
}

FrontendSpec parse_frontend(const MetadataReader& reader) {
    const Json doc = reader.document("frontend");
    FrontendSpec spec;
    const std::string type = reader.string_field(doc, "frontend", "type", true);
    if (type == "none") spec.type = FrontendType::kNone;
    else if (type == "log_mel") spec.type = FrontendType::kLogMel;
    else if (type == "stft_bands") spec.type = FrontendType::kStftBands;
    else if (type == "ticks") spec.type = FrontendType::kTicks;
    else reader.fail("frontend.type", "is \"" + type + "\", expected none, log_mel, stft_bands or ticks.");

    if (spec.type == FrontendType::kLogMel || spec.type == FrontendType::kStftBands) {
        spec.sample_rate_hz = reader.integer(doc, "frontend", "sample_rate_hz", 8000, 192000);
        spec.window_samples = reader.integer(doc, "frontend", "window_samples", 16, 65536);
        spec.hop_samples = reader.integer(doc, "frontend", "hop_samples", 1, spec.window_samples);
        spec.n_bands = reader.integer(doc, "frontend", "n_bands", 1, 1024);
    }
    if (spec.type == FrontendType::kStftBands) {
        spec.window = reader.string_field(doc, "frontend", "window", true);
        if (spec.window != "hann" && spec.window != "sqrt_hann" && spec.window != "vorbis") {
            reader.fail("frontend.window", "is \"" + spec.window +
                                               "\", expected hann, sqrt_hann or vorbis.");
        }
        const std::string gain = reader.string_field(doc, "frontend", "gain", true);
        if (gain != "sigmoid") reader.fail("frontend.gain", "is \"" + gain + "\", expected sigmoid.");
        spec.gain = BandGain::kSigmoid;
    }
    return spec;
}

void require_divides(const MetadataReader& reader, const std::string& where, const char* field,
                     std::uint64_t divisor, const std::string& what, std::uint64_t value) {
    if (divisor == 0 || value % divisor != 0) {
        reader.fail(where + "." + field, "is " + std::to_string(divisor) + ", which does not divide " +
                                             what + " = " + std::to_string(value) + ".");
    }
}

Mamba2Spec parse_mamba2(const MetadataReader& reader, const Json& layer, const std::string& where,
                        std::uint32_t d_model) {
    Mamba2Spec spec;
    spec.d_state = reader.integer(layer, where, "d_state", 1, kMaxStateDim);
    spec.head_dim = reader.integer(layer, where, "head_dim", 1, kMaxStateDim);
    spec.expand = reader.integer(layer, where, "expand", 1, kMaxExpand);
    spec.d_conv = reader.integer(layer, where, "d_conv", 1, kMaxConvTaps);
    spec.n_groups = reader.integer(layer, where, "n_groups", 1, kMaxStateDim);
    const Mamba2Dims dims = mamba2_dims(spec, d_model);
    require_divides(reader, where, "head_dim", spec.head_dim, "d_inner = expand * d_model", dims.d_inner);
    require_divides(reader, where, "n_groups", spec.n_groups, "n_heads", dims.n_heads);
    return spec;
}

Mamba3Spec parse_mamba3(const MetadataReader& reader, const Json& layer, const std::string& where,
                        std::uint32_t d_model) {
    Mamba3Spec spec;
    spec.d_state = reader.integer(layer, where, "d_state", 2, kMaxStateDim);
    if (spec.d_state % 2 != 0) {
        reader.fail(where + ".d_state", "is " + std::to_string(spec.d_state) +
                                            "; Mamba-3 rotates state channels in pairs, so it "
                                            "must be even.");
    }
    spec.head_dim = reader.integer(layer, where, "head_dim", 1, kMaxStateDim);
    spec.expand = reader.integer(layer, where, "expand", 1, kMaxExpand);
    spec.n_groups = reader.integer(layer, where, "n_groups", 1, kMaxStateDim);
    spec.mimo_rank = reader.integer(layer, where, "mimo_rank", 0, kMaxMimoRank);
    const Mamba3Dims dims = mamba3_dims(spec, d_model);
    require_divides(reader, where, "head_dim", spec.head_dim, "d_inner = expand * d_model", dims.d_inner);
    require_divides(reader, where, "n_groups", spec.n_groups, "n_heads", dims.n_heads);
    return spec;
}

Mamba1Spec parse_mamba1(const MetadataReader& reader, const Json& layer, const std::string& where,
                        std::uint32_t d_model) {
    Mamba1Spec spec;
    spec.d_state = reader.integer(layer, where, "d_state", 1, kMaxStateDim);
    spec.expand = reader.integer(layer, where, "expand", 1, kMaxExpand);
    spec.d_conv = reader.integer(layer, where, "d_conv", 1, kMaxConvTaps);
    spec.dt_rank = reader.optional_integer(layer, where, "dt_rank", 0, d_model, 0);
    return spec;
}

WindowAttentionSpec parse_attention(const MetadataReader& reader, const Json& layer,
                                    const std::string& where) {
    WindowAttentionSpec spec;
    spec.n_heads = reader.integer(layer, where, "n_heads", 1, kMaxStateDim);
    spec.head_dim = reader.integer(layer, where, "head_dim", 1, kMaxStateDim);
    spec.window = reader.integer(layer, where, "window", 1, kMaxWindow);
    if (std::uint64_t{spec.n_heads} * spec.head_dim > kMaxModelDim) {
        reader.fail(where + ".n_heads", "times head_dim is " +
                                            std::to_string(std::uint64_t{spec.n_heads} * spec.head_dim) +
                                            ", above the limit " + std::to_string(kMaxModelDim) + ".");
    }
    return spec;
}

Architecture parse_architecture(const MetadataReader& reader) {
    const Json doc = reader.document("architecture");
    Architecture arch;
    arch.input_dim = reader.integer(doc, "architecture", "input_dim", 1, kMaxFeatureDim);
    arch.d_model = reader.integer(doc, "architecture", "d_model", 1, kMaxModelDim);
    arch.output_dim = reader.integer(doc, "architecture", "output_dim", 1, kMaxFeatureDim);
    if (const auto eps = doc.find("norm_eps"); eps != doc.end()) {
        if (!eps->is_number() || !std::isfinite(eps->get<double>()) || eps->get<double>() <= 0.0 ||
            eps->get<double>() >= 1.0) {
            reader.fail("architecture.norm_eps", "is " + eps->dump() + ", expected a number in (0, 1).");
        }
        arch.norm_eps = eps->get<double>();
    }
    const auto layers = doc.find("layers");
    if (layers == doc.end() || !layers->is_array() || layers->empty() ||
        layers->size() > kMaxLayers) {
        reader.fail("architecture.layers", "must be an array of 1.." + std::to_string(kMaxLayers) +
                                               " layer objects.");
    }
    for (std::size_t i = 0; i < layers->size(); ++i) {
        const std::string where = "architecture.layers[" + std::to_string(i) + "]";
        const Json& layer = (*layers)[i];
        if (!layer.is_object()) reader.fail(where, "is not an object.");
        const std::string type = reader.string_field(layer, where, "type", true);
        LayerSpec spec;
        if (type == "mamba2") {
            spec.type = BlockType::kMamba2;
            spec.mamba2 = parse_mamba2(reader, layer, where, arch.d_model);
        } else if (type == "mamba3") {
            spec.type = BlockType::kMamba3;
            spec.mamba3 = parse_mamba3(reader, layer, where, arch.d_model);
        } else if (type == "mamba1") {
            spec.type = BlockType::kMamba1;
            spec.mamba1 = parse_mamba1(reader, layer, where, arch.d_model);
        } else if (type == "attention") {
            spec.type = BlockType::kWindowAttention;
            spec.attention = parse_attention(reader, layer, where);
        } else {
            reader.fail(where + ".type", "is \"" + type + "\"; this build knows: mamba2, mamba3, "
                                         "mamba1, attention.");
        }
        arch.layers.push_back(spec);
    }
    return arch;
}

Recipe parse_recipe(const MetadataReader& reader) {
    const Json doc = reader.document("recipe");
    Recipe recipe;
    recipe.name = reader.string_field(doc, "recipe", "name", true);
    recipe.script = reader.string_field(doc, "recipe", "script", false);
    recipe.commit = reader.string_field(doc, "recipe", "commit", false);
    if (const auto seed = doc.find("seed"); seed != doc.end()) {
        if (!seed->is_number_unsigned()) reader.fail("recipe.seed", "is " + seed->dump() + ", expected an integer.");
        recipe.seed = seed->get<std::uint64_t>();
    }
    return recipe;
}

// "forecast": docs/forecast.md, the table of fields and their ranges.
ForecastSpec parse_forecast(const MetadataReader& reader) {
    const Json doc = reader.document("forecast");
    const std::string where = "forecast";
    ForecastSpec spec;
    const auto version = doc.find("version");
    if (version == doc.end()) reader.fail("forecast.version", "is missing.");
    if (*version != kForecastSpecVersion) {
        reader.fail("forecast.version", "is " + version->dump() + "; this build reads version " +
                                            std::to_string(kForecastSpecVersion) +
                                            " (docs/forecast.md). Use a matching statestream or "
                                            "re-export the model (models/train/forecast/"
                                            "export_forecaster.py --respec keeps its weights).");
    }
    spec.version = kForecastSpecVersion;
    spec.horizon = reader.integer(doc, where, "horizon", 1, kForecastMaxHorizon);

    const auto quantiles = doc.find("quantiles");
    if (quantiles == doc.end()) reader.fail("forecast.quantiles", "is missing.");
    const auto quantiles_ok = [&] {
        if (!quantiles->is_array() || quantiles->size() != kForecastQuantiles) return false;
        for (std::size_t k = 0; k < kForecastQuantiles; ++k) {
            const Json& q = (*quantiles)[k];
            if (!q.is_number() || !(q.get<double>() > 0.0) || !(q.get<double>() < 1.0)) return false;
            if (k > 0 && !(q.get<double>() > (*quantiles)[k - 1].get<double>())) return false;
            spec.quantiles[k] = q.get<double>();
        }
        return spec.quantiles[1] == 0.5;
    };
    if (!quantiles_ok()) {
        reader.fail("forecast.quantiles", "is " + quantiles->dump() + ", expected three levels "
                                          "strictly increasing in (0, 1) with the middle one 0.5, "
                                          "e.g. [0.1, 0.5, 0.9].");
    }

    const auto positive = [](double v) { return v > 0.0; };
    const auto non_negative = [](double v) { return v >= 0.0; };
    spec.scale_tau = reader.number(doc, where, "scale_tau", positive, "> 0 (ticks)");
    spec.level_tau = reader.number(doc, where, "level_tau", positive, "> 0 (ticks)");
    spec.dt_tau = reader.number(doc, where, "dt_tau", positive, "> 0 (ticks)");
    spec.max_season = reader.integer(doc, where, "max_season", 0, kForecastMaxSeason);
    spec.adapt_offset_rate = reader.number(doc, where, "adapt_offset_rate",
                                           [](double v) { return v >= 0.0 && v <= 1.0; }, "in [0, 1]");
    spec.adapt_width_rate = reader.number(doc, where, "adapt_width_rate", non_negative, ">= 0");
    spec.coverage = reader.number(doc, where, "coverage", [](double v) { return v > 0.0 && v < 1.0; },
                                  "in (0, 1)");
    spec.adapt_break_sigmas = reader.number(doc, where, "adapt_break_sigmas", positive, "> 0 (scales)");
    spec.adapt_shift_sigmas = reader.number(doc, where, "adapt_shift_sigmas", positive, "> 0 (scales)");
    spec.adapt_pullback_ticks = reader.integer(doc, where, "adapt_pullback_ticks", 0, kForecastMaxPullbackTicks);
    spec.adapt_pullback_prior = reader.number(doc, where, "adapt_pullback_prior", positive, "> 0");
    return spec;
}

// The shapes docs/forecast.md fixes: six ticks-v1 features in, three quantiles per horizon out.
void check_forecast_shapes(const MetadataReader& reader, const ModelDescription& description) {
    const Architecture& arch = description.architecture;
    if (description.frontend.type != FrontendType::kTicks) {
        reader.fail("frontend.type", "is \"" + std::string(frontend_type_name(description.frontend.type)) +
                                         "\"; a forecasting model reads ticks: {\"type\": \"ticks\"} "
                                         "(docs/forecast.md).");
    }
    if (arch.input_dim != kForecastInputDim) {
        reader.fail("architecture.input_dim", "is " + std::to_string(arch.input_dim) + "; a forecasting "
                                              "model reads the " + std::to_string(kForecastInputDim) +
                                              " ticks-v1 features (docs/forecast.md).");
    }
    const std::uint64_t want = std::uint64_t{kForecastQuantiles} * description.forecast.horizon;
    if (arch.output_dim != want) {
        reader.fail("architecture.output_dim", "is " + std::to_string(arch.output_dim) + " but "
                                               "forecast.horizon is " +
                                               std::to_string(description.forecast.horizon) +
                                               "; the quantile head needs 3 * horizon = " +
                                               std::to_string(want) + " outputs.");
    }
}

}  // namespace

std::string_view task_name(Task task) noexcept {
    switch (task) {
        case Task::kTest: return "test";
        case Task::kEnhance: return "enhance";
        case Task::kTranscribe: return "transcribe";
        case Task::kForecast: return "forecast";
    }
    return "?";
}

std::string_view frontend_type_name(FrontendType type) noexcept {
    switch (type) {
        case FrontendType::kNone: return "none";
        case FrontendType::kLogMel: return "log_mel";
        case FrontendType::kStftBands: return "stft_bands";
        case FrontendType::kTicks: return "ticks";
    }
    return "?";
}

std::string_view band_gain_name(BandGain gain) noexcept {
    switch (gain) {
        case BandGain::kNone: return "none";
        case BandGain::kSigmoid: return "sigmoid";
    }
    return "?";
}

// "labels": a JSON list of strings, one per output, the CTC blank ("") first.
std::vector<std::string> parse_labels(const MetadataReader& reader, std::uint32_t output_dim) {
    const std::string& value = reader.text("labels");
    Json doc;
    try {
        doc = Json::parse(value);
    } catch (const Json::exception& error) {
        reader.fail("labels", std::string("is not valid JSON: ") + error.what());
    }
    if (!doc.is_array()) reader.fail("labels", "is not a JSON list of strings.");
    if (doc.size() != output_dim) {
        reader.fail("labels", "has " + std::to_string(doc.size()) + " entries but the model has " +
                                  std::to_string(output_dim) + " outputs; one label per output.");
    }
    std::vector<std::string> labels;
    for (std::size_t i = 0; i < doc.size(); ++i) {
        if (!doc[i].is_string() || doc[i].get<std::string>().size() > 16) {
            reader.fail("labels[" + std::to_string(i) + "]", "is not a string of at most 16 bytes.");
        }
        labels.push_back(doc[i].get<std::string>());
    }
    if (labels.front() != "") reader.fail("labels[0]", "must be \"\", the CTC blank.");
    return labels;
}

ModelDescription parse_model_description(const std::map<std::string, std::string>& metadata,
                                         const std::string& source) {
    const MetadataReader reader(metadata, source);
    ModelDescription description;
    const std::string& version = reader.text("format_version");
    if (version != std::to_string(kModelFormatVersion)) {
        reader.fail("format_version", "is \"" + version + "\"; this build reads version " +
                                          std::to_string(kModelFormatVersion) +
                                          ". Use a matching statestream or re-export the model.");
    }
    description.task = parse_task(reader);
    description.frontend = parse_frontend(reader);
    description.architecture = parse_architecture(reader);
    description.recipe = parse_recipe(reader);
    if (description.task == Task::kTranscribe) {
        description.labels = parse_labels(reader, description.architecture.output_dim);
    }
    if (description.task == Task::kForecast) {
        description.forecast = parse_forecast(reader);
        check_forecast_shapes(reader, description);
    }
    if (description.frontend.type == FrontendType::kLogMel &&
        description.frontend.n_bands != description.architecture.input_dim) {
        reader.fail("frontend.n_bands", "is " + std::to_string(description.frontend.n_bands) +
                                            " but architecture.input_dim is " +
                                            std::to_string(description.architecture.input_dim) +
                                            "; a log-mel front-end feeds one value per band.");
    }
    return description;
}

}  // namespace statestream::models
