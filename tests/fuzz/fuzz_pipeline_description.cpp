// libFuzzer target: arbitrary bytes as a pipeline description (docs/pipelines.md). Each input
// must parse or be refused with PipelineDescriptionError naming its origin; one that parses
// must build or be refused the same way (model stages point at no file here, so they are
// refused by the loader with ModelFileError). A crash, a sanitizer report, an uncaught
// exception or an unbounded allocation is a bug.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "engine/pipeline_description.hpp"
#include "models/model_file_error.hpp"

using namespace statestream::engine;

namespace {

void require(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_pipeline_description: %s\n", what);
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    PipelineDescription description;
    try {
        description = parse_pipeline_description(text, "fuzz.json");
    } catch (const PipelineDescriptionError& error) {
        require(std::string_view(error.what()).rfind("fuzz.json: ", 0) == 0,
                "a parse error does not start with the origin");
        return 0;
    }
    require(!description.stages.empty() && description.stages.size() <= kMaxStages,
            "an accepted description has no stages or too many");
    require(description.input_rate_hz >= kMinRateHz && description.input_rate_hz <= kMaxRateHz,
            "an accepted input rate is out of range");
    require(description.realtime.max_backlog_steps < description.realtime.ring_steps,
            "an accepted backlog bound does not fit its ring");
    // Resamplers are costly to construct; a long chain of them is legal but slow to fuzz.
    std::size_t resamplers = 0;
    for (const auto& stage : description.stages) {
        resamplers += std::holds_alternative<ResampleDescription>(stage) ? 1 : 0;
    }
    if (resamplers > 4) return 0;
    try {
        const BuiltPipeline built = build_pipeline(description, "/nonexistent-fuzz-dir");
        require(built.pipeline != nullptr, "build returned no pipeline");
    } catch (const PipelineDescriptionError&) {
    } catch (const statestream::models::ModelFileError&) {
    }
    return 0;
}
