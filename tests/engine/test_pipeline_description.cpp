// Pipeline descriptions (docs/pipelines.md): the shipped examples build; every mistake is
// refused with the JSON path of the offending place and what to write instead.

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "engine/pipeline_description.hpp"

using namespace statestream::engine;

namespace {

const std::filesystem::path kPipelines = std::filesystem::path(STATESTREAM_DATA_DIR) / "pipelines";

std::string error_of(const std::string& json) {
    try {
        (void)parse_pipeline_description(json, "test.json");
    } catch (const PipelineDescriptionError& error) {
        return error.what();
    }
    return "(accepted)";
}

std::string with_stages(const std::string& stages) {
    return R"({"schema": "statestream.pipeline/1", "input": {"rate_hz": 48000, "block": 480},
               "stages": )" + stages + "}";
}

}  // namespace

TEST_CASE("The shipped speech-features description builds resample -> log-mel -> model",
          "[engine][pipeline]") {
    const auto description = load_pipeline_description(kPipelines / "speech_features.json");
    CHECK(description.input_rate_hz == 48000);
    CHECK(description.input_block == 480);
    REQUIRE(description.stages.size() == 3);
    CHECK(description.realtime.policy == OverloadPolicy::kDrop);
    const BuiltPipeline built = build_pipeline(description, kPipelines);
    REQUIRE(built.pipeline != nullptr);
    CHECK(built.pipeline->size() == 3);
    CHECK(built.pipeline->output().dim == 4);           // the tiny model's output
    CHECK(built.pipeline->output().rate_hz == 100.0);   // one vector per 10 ms hop
    CHECK(built.pipeline->latency_seconds() > 0.0);     // the resampler's delay
}

TEST_CASE("The shipped pass-through description copies audio exactly", "[engine][pipeline]") {
    const auto description = load_pipeline_description(kPipelines / "pass_through.json");
    CHECK(description.realtime.policy == OverloadPolicy::kPassThrough);
    const BuiltPipeline built = build_pipeline(description, kPipelines);
    std::vector<float> in(480), out(480);
    for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>(i) * 1e-3f - 0.2f;
    built.pipeline->step(in, out);
    CHECK(out == in);
}

TEST_CASE("Description errors name the place and the fix", "[engine][pipeline]") {
    using Catch::Matchers::Contains;
    CHECK_THAT(error_of("{\"schema\": "), Contains("test.json: not valid JSON") && Contains("line 1"));
    CHECK_THAT(error_of(R"({"schema": 1e999})"), Contains("test.json: not valid JSON") && Contains("number overflow"));
    CHECK_THAT(error_of("[]"), Contains("test.json: /: must be an object"));
    CHECK_THAT(error_of(R"({"schema": "statestream.pipeline/9"})"),
               Contains("/schema: must be \"statestream.pipeline/1\""));
    CHECK_THAT(error_of(R"({"schema": "statestream.pipeline/1", "stages": []})"),
               Contains("/input: missing"));
    CHECK_THAT(error_of(R"({"schema": "statestream.pipeline/1", "input": {"rate_hz": 48000.5, "block": 480}, "stages": [{"type": "gain"}]})"),
               Contains("/input/rate_hz: must be a whole number"));
    CHECK_THAT(error_of(R"({"schema": "statestream.pipeline/1", "input": {"rate_hz": 100, "block": 480}, "stages": [{"type": "gain"}]})"),
               Contains("/input/rate_hz: is 100; it must be from 1000 to 384000"));
    CHECK_THAT(error_of(with_stages("[]")), Contains("/stages: must be a non-empty array"));
    CHECK_THAT(error_of(with_stages(R"([{"type": "reverb"}])")),
               Contains("/stages/0/type: unknown stage type \"reverb\""));
    CHECK_THAT(error_of(with_stages(R"([{"type": "resample", "to_hz": 16000, "qualty": "best"}])")),
               Contains("/stages/0/qualty: unknown key; this object takes \"type\", \"to_hz\", \"quality\""));
    CHECK_THAT(error_of(with_stages(R"([{"type": "resample"}])")),
               Contains("/stages/0: a resample stage needs \"to_hz\""));
    CHECK_THAT(error_of(with_stages(R"([{"type": "resample", "to_hz": 16000, "quality": "great"}])")),
               Contains("/stages/0/quality: is \"great\"; use best, medium or fastest"));
    CHECK_THAT(error_of(with_stages(R"([{"type": "log_mel", "window": 400, "hop": 800}])")),
               Contains("/stages/0/hop: is 800; it must be from 1 to 400"));
    CHECK_THAT(error_of(with_stages(R"([{"type": "gain", "db": 1e300}])")),
               Contains("/stages/0/db: is"));
    CHECK_THAT(error_of(with_stages(R"([{"type": "model"}])")),
               Contains("/stages/0: a model stage needs \"path\""));
    CHECK_THAT(error_of(with_stages(R"([{"type": "gain"}], "realtime": {"on_overload": "panic"})")),
               Contains("/realtime/on_overload: is \"panic\"; use drop or pass_through"));
    CHECK_THAT(error_of(with_stages(R"([{"type": "gain"}], "realtime": {"ring_steps": 8, "max_backlog_steps": 8})")),
               Contains("/realtime/max_backlog_steps: is 8; it must be from 0 to 7"));
    CHECK(error_of(with_stages(R"([{"type": "gain"}])")) == "(accepted)");  // the control
}

TEST_CASE("Stages that do not fit together are refused when the pipeline is built",
          "[engine][pipeline]") {
    using Catch::Matchers::Contains;
    const auto build_error = [](const std::string& json) -> std::string {
        try {
            (void)build_pipeline(parse_pipeline_description(json, "test.json"), kPipelines);
        } catch (const PipelineDescriptionError& error) {
            return error.what();
        }
        return "(built)";
    };
    CHECK_THAT(build_error(with_stages(R"([{"type": "log_mel", "window": 400, "hop": 160}])")),
               Contains("/stages/0: log_mel's hop is 160 samples but the audio arrives in blocks of 480"));
    CHECK_THAT(build_error(with_stages(R"([{"type": "resample", "to_hz": 16000},
                                           {"type": "log_mel", "hop": 160, "bands": 40},
                                           {"type": "model", "path": "../models/tiny_mamba2.safetensors"}])")),
               Contains("/stages/2: the model") && Contains("takes one 8-dimensional vector per step"));
    CHECK_THAT(build_error(with_stages(R"([{"type": "resample", "to_hz": 16000},
                                           {"type": "log_mel", "hop": 160, "bands": 8},
                                           {"type": "gain"}])")),
               Contains("/stages/2: a gain stage takes audio"));
    CHECK_THAT(build_error(with_stages(R"([{"type": "resample", "to_hz": 22050}])")),
               Contains("/stages/0:") && Contains("480"));  // 480 * 22050 / 48000 is not whole
}
