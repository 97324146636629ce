#include "engine/pipeline_description.hpp"

#include <cmath>
#include <fstream>
#include <initializer_list>
#include <sstream>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "engine/stages/gain_stage.hpp"
#include "engine/stages/log_mel_stage.hpp"
#include "engine/stages/model_stage.hpp"
#include "engine/stages/resample_stage.hpp"

namespace statestream::engine {

namespace {

using Json = nlohmann::json;

// Reads one description, naming the origin and the JSON path of whatever is wrong.
class Reader {
public:
    explicit Reader(const std::string& origin) : origin_(origin) {}

    [[noreturn]] void fail(const std::string& path, const std::string& problem) const {
        throw PipelineDescriptionError(fmt::format("{}: {}: {} (docs/pipelines.md)", origin_,
                                                   path.empty() ? "/" : path, problem));
    }

    const Json& object(const Json& node, const std::string& path,
                       std::initializer_list<std::string_view> known) const {
        if (!node.is_object()) fail(path, fmt::format("must be an object, not {}", node.type_name()));
        for (const auto& [key, value] : node.items()) {
            bool is_known = false;
            for (const auto name : known) is_known = is_known || key == name;
            if (!is_known) {
                std::string names;
                for (const auto name : known) names += fmt::format("{}\"{}\"", names.empty() ? "" : ", ", name);
                fail(path + "/" + key, fmt::format("unknown key; this object takes {}", names));
            }
        }
        return node;
    }

    std::size_t whole(const Json& node, const std::string& path, std::size_t min,
                      std::size_t max) const {
        if (!node.is_number_integer()) {
            fail(path, fmt::format("must be a whole number from {} to {}, not {}", min, max,
                                   node.dump()));
        }
        if (node.is_number_unsigned()) {
            const auto value = node.get<std::uint64_t>();
            if (value >= min && value <= max) return static_cast<std::size_t>(value);
        }
        fail(path, fmt::format("is {}; it must be from {} to {}", node.dump(), min, max));
    }

    double finite(const Json& node, const std::string& path, double min, double max) const {
        if (!node.is_number()) fail(path, fmt::format("must be a number, not {}", node.dump()));
        const double value = node.get<double>();
        if (!std::isfinite(value) || value < min || value > max) {
            fail(path, fmt::format("is {}; it must be from {} to {}", node.dump(), min, max));
        }
        return value;
    }

    std::string text(const Json& node, const std::string& path) const {
        if (!node.is_string()) fail(path, fmt::format("must be a string, not {}", node.dump()));
        auto value = node.get<std::string>();
        if (value.empty()) fail(path, "must not be empty");
        return value;
    }

private:
    const std::string& origin_;
};

StageDescription parse_stage(const Reader& reader, const Json& node, const std::string& path) {
    if (!node.is_object() || !node.contains("type")) {
        reader.fail(path, "a stage is an object with a \"type\": gain, resample, log_mel or model");
    }
    const std::string type = reader.text(node["type"], path + "/type");
    if (type == "gain") {
        reader.object(node, path, {"type", "db"});
        GainDescription gain;
        if (node.contains("db")) gain.gain_db = reader.finite(node["db"], path + "/db", -120.0, 60.0);
        return gain;
    }
    if (type == "resample") {
        reader.object(node, path, {"type", "to_hz", "quality"});
        ResampleDescription resample;
        if (!node.contains("to_hz")) reader.fail(path, "a resample stage needs \"to_hz\"");
        resample.to_hz = static_cast<std::uint32_t>(
            reader.whole(node["to_hz"], path + "/to_hz", kMinRateHz, kMaxRateHz));
        if (node.contains("quality")) {
            const std::string quality = reader.text(node["quality"], path + "/quality");
            if (quality == "best") resample.quality = dsp::ResamplerQuality::kBest;
            else if (quality == "medium") resample.quality = dsp::ResamplerQuality::kMedium;
            else if (quality == "fastest") resample.quality = dsp::ResamplerQuality::kFastest;
            else reader.fail(path + "/quality", fmt::format("is \"{}\"; use best, medium or fastest", quality));
        }
        return resample;
    }
    if (type == "log_mel") {
        reader.object(node, path, {"type", "window", "hop", "bands"});
        LogMelDescription mel;
        if (node.contains("window")) mel.window = reader.whole(node["window"], path + "/window", 16, kMaxBlock);
        if (node.contains("hop")) mel.hop = reader.whole(node["hop"], path + "/hop", 1, mel.window);
        if (node.contains("bands")) mel.bands = reader.whole(node["bands"], path + "/bands", 1, kMaxBands);
        return mel;
    }
    if (type == "model") {
        reader.object(node, path, {"type", "path"});
        if (!node.contains("path")) reader.fail(path, "a model stage needs \"path\" (a .safetensors model file)");
        return ModelDescription{reader.text(node["path"], path + "/path")};
    }
    reader.fail(path + "/type", fmt::format("unknown stage type \"{}\"; use gain, resample, "
                                            "log_mel or model", type));
}

}  // namespace

PipelineDescription parse_pipeline_description(std::string_view json_text,
                                                const std::string& origin) {
    const Reader reader(origin);
    Json document;
    try {
        document = Json::parse(json_text.begin(), json_text.end());
    } catch (const Json::exception& error) {
        // parse_error carries the line and column; out_of_range is a number too large for a
        // double ("1e999").
        throw PipelineDescriptionError(fmt::format("{}: not valid JSON: {}", origin, error.what()));
    }
    reader.object(document, "", {"schema", "name", "input", "stages", "realtime", "source", "sink"});
    if (!document.contains("schema") || !document["schema"].is_string() ||
        document["schema"].get<std::string>() != kPipelineSchema) {
        reader.fail("/schema", fmt::format("must be \"{}\"", kPipelineSchema));
    }
    PipelineDescription description;
    if (document.contains("name")) description.name = reader.text(document["name"], "/name");

    if (!document.contains("input")) reader.fail("/input", "missing: give {\"rate_hz\": ..., \"block\": ...}");
    const Json& input = reader.object(document["input"], "/input", {"rate_hz", "block"});
    if (!input.contains("rate_hz") || !input.contains("block")) {
        reader.fail("/input", "needs both \"rate_hz\" and \"block\" (samples per step)");
    }
    description.input_rate_hz = static_cast<std::uint32_t>(
        reader.whole(input["rate_hz"], "/input/rate_hz", kMinRateHz, kMaxRateHz));
    description.input_block = reader.whole(input["block"], "/input/block", 1, kMaxBlock);

    if (!document.contains("stages") || !document["stages"].is_array() || document["stages"].empty()) {
        reader.fail("/stages", "must be a non-empty array of stages");
    }
    const Json& stages = document["stages"];
    if (stages.size() > kMaxStages) {
        reader.fail("/stages", fmt::format("has {} stages; at most {}", stages.size(), kMaxStages));
    }
    for (std::size_t i = 0; i < stages.size(); ++i) {
        description.stages.push_back(parse_stage(reader, stages[i], fmt::format("/stages/{}", i)));
    }

    if (document.contains("realtime")) {
        const Json& realtime = reader.object(document["realtime"], "/realtime",
                                             {"on_overload", "max_backlog_steps", "ring_steps"});
        if (realtime.contains("on_overload")) {
            const std::string policy = reader.text(realtime["on_overload"], "/realtime/on_overload");
            if (policy == "drop") description.realtime.policy = OverloadPolicy::kDrop;
            else if (policy == "pass_through") description.realtime.policy = OverloadPolicy::kPassThrough;
            else reader.fail("/realtime/on_overload", fmt::format("is \"{}\"; use drop or pass_through", policy));
        }
        if (realtime.contains("ring_steps")) {
            description.realtime.ring_steps =
                reader.whole(realtime["ring_steps"], "/realtime/ring_steps", 2, kMaxRingSteps);
        }
        if (realtime.contains("max_backlog_steps")) {
            description.realtime.max_backlog_steps =
                reader.whole(realtime["max_backlog_steps"], "/realtime/max_backlog_steps", 0,
                             description.realtime.ring_steps - 1);
        }
    }
    if (description.realtime.max_backlog_steps >= description.realtime.ring_steps) {
        reader.fail("/realtime/max_backlog_steps", "must be below ring_steps");
    }
    if (document.contains("source")) description.source = reader.text(document["source"], "/source");
    if (document.contains("sink")) description.sink = reader.text(document["sink"], "/sink");
    return description;
}

PipelineDescription load_pipeline_description(const std::filesystem::path& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        throw PipelineDescriptionError(fmt::format("{}: cannot open the pipeline description",
                                                   path.string()));
    }
    std::ostringstream text;
    text << file.rdbuf();
    return parse_pipeline_description(text.str(), path.string());
}

BuiltPipeline build_pipeline(const PipelineDescription& description,
                             const std::filesystem::path& base_dir) {
    BuiltPipeline built;
    std::vector<std::unique_ptr<Stage>> stages;
    StageShape current{1, static_cast<double>(description.input_rate_hz), description.input_block};
    for (std::size_t i = 0; i < description.stages.size(); ++i) {
        const auto fail = [&](const std::string& problem) {
            throw PipelineDescriptionError(fmt::format("/stages/{}: {} (docs/pipelines.md)", i, problem));
        };
        const bool audio = current.dim == 1 && current.block > 1;
        const auto& stage = description.stages[i];
        try {
            if (const auto* gain = std::get_if<GainDescription>(&stage)) {
                if (!audio) fail("a gain stage takes audio, but the stage before it gives feature vectors");
                stages.push_back(std::make_unique<GainStage>(current.rate_hz, current.block, gain->gain_db));
            } else if (const auto* resample = std::get_if<ResampleDescription>(&stage)) {
                if (!audio) fail("a resample stage takes audio, but the stage before it gives feature vectors");
                stages.push_back(std::make_unique<ResampleStage>(
                    static_cast<std::uint32_t>(current.rate_hz), resample->to_hz, current.block,
                    resample->quality));
            } else if (const auto* mel = std::get_if<LogMelDescription>(&stage)) {
                if (!audio) fail("a log_mel stage takes audio, but the stage before it gives feature vectors");
                if (current.block != mel->hop) {
                    fail(fmt::format("log_mel's hop is {} samples but the audio arrives in blocks of "
                                     "{}; make the hop equal to the block (or the input block "
                                     "equal to the hop)", mel->hop, current.block));
                }
                stages.push_back(std::make_unique<LogMelStage>(
                    dsp::LogMelConfig{current.rate_hz, mel->window, mel->hop, mel->bands}));
            } else if (const auto* model = std::get_if<ModelDescription>(&stage)) {
                const std::filesystem::path path =
                    model->path.is_absolute() ? model->path : base_dir / model->path;
                built.model_files.push_back(
                    std::make_unique<models::ModelFile>(models::ModelFile::load(path)));
                built.models.push_back(std::make_unique<models::SsmModel>(*built.model_files.back()));
                const models::SsmModel& ssm = *built.models.back();
                if (current.block != 1 || current.dim != ssm.input_dim()) {
                    fail(fmt::format("the model {} takes one {}-dimensional vector per step, but "
                                     "the stage before it gives {} vector(s) of {}",
                                     path.string(), ssm.input_dim(), current.block, current.dim));
                }
                stages.push_back(std::make_unique<ModelStage>(ssm, current.rate_hz));
            }
        } catch (const std::invalid_argument& error) {
            fail(error.what());
        }
        current = stages.back()->output();
    }
    try {
        built.pipeline = std::make_unique<Pipeline>(std::move(stages));
    } catch (const std::invalid_argument& error) {
        throw PipelineDescriptionError(fmt::format("the stages do not fit together: {}", error.what()));
    }
    return built;
}

}  // namespace statestream::engine
