#pragma once
// Pipelines from a declarative JSON description (docs/pipelines.md), e.g.
//
//   {"schema": "statestream.pipeline/1",
//    "input": {"rate_hz": 48000, "block": 480},
//    "stages": [{"type": "resample", "to_hz": 16000},
//               {"type": "log_mel", "window": 400, "hop": 160, "bands": 40},
//               {"type": "model", "path": "../models/tiny_mamba2.safetensors"}],
//    "realtime": {"on_overload": "drop", "max_backlog_steps": 4}}
//
// Parsing checks the document (every key known, every number whole and in range) and names the
// offending place as a JSON path ("/stages/1/to_hz") with the fix; building then checks that
// the stages fit together (rates, block sizes) through Pipeline's own checks.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dsp/stream_resampler.hpp"
#include "engine/pipeline.hpp"
#include "engine/realtime_worker.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"

namespace statestream::engine {

inline constexpr std::string_view kPipelineSchema = "statestream.pipeline/1";

// Bounds that keep a hostile description from asking for absurd allocations.
inline constexpr std::uint32_t kMinRateHz = 1000;
inline constexpr std::uint32_t kMaxRateHz = 384000;
inline constexpr std::size_t kMaxBlock = 65536;
inline constexpr std::size_t kMaxStages = 64;
inline constexpr std::size_t kMaxBands = 512;
inline constexpr std::size_t kMaxRingSteps = 4096;

class PipelineDescriptionError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct GainDescription {
    double gain_db = 0.0;
};
struct ResampleDescription {
    std::uint32_t to_hz = 16000;
    dsp::ResamplerQuality quality = dsp::ResamplerQuality::kMedium;
};
struct LogMelDescription {
    std::size_t window = 400;
    std::size_t hop = 160;
    std::size_t bands = 40;
};
struct ModelDescription {
    std::filesystem::path path;  // as written; relative paths are taken from the description's folder
};
using StageDescription =
    std::variant<GainDescription, ResampleDescription, LogMelDescription, ModelDescription>;

struct PipelineDescription {
    std::string name;
    std::uint32_t input_rate_hz = 48000;
    std::size_t input_block = 480;
    std::vector<StageDescription> stages;
    WorkerConfig realtime;
    // Where audio comes from and goes to when the command line does not say: a file path, or
    // "device:SPEC" for a PortAudio device (SPEC as in find_audio_device).
    std::optional<std::string> source;
    std::optional<std::string> sink;
};

// Thread: setup. `origin` names the text in errors (the file path). Throws
// PipelineDescriptionError.
[[nodiscard]] PipelineDescription parse_pipeline_description(std::string_view json_text,
                                                             const std::string& origin);
// Thread: setup. Reads and parses a description file; errors name the file.
[[nodiscard]] PipelineDescription load_pipeline_description(const std::filesystem::path& path);

// A pipeline with the models it runs, which it owns.
struct BuiltPipeline {
    std::vector<std::unique_ptr<models::ModelFile>> model_files;
    std::vector<std::unique_ptr<models::SsmModel>> models;
    std::unique_ptr<Pipeline> pipeline;
};

// Thread: setup. Loads models (relative paths from `base_dir`) and builds the stages. Throws
// PipelineDescriptionError naming the stage that does not fit and why; model file problems
// come as models::ModelFileError.
[[nodiscard]] BuiltPipeline build_pipeline(const PipelineDescription& description,
                                           const std::filesystem::path& base_dir);

}  // namespace statestream::engine
