#include "engine/stream_snapshot.hpp"

#include <cmath>
#include <cstring>
#include <map>

#include "models/aligned_bytes.hpp"
#include "models/model_file_error.hpp"
#include "models/safetensors_file.hpp"
#include "models/safetensors_writer.hpp"

namespace statestream::engine {

namespace {
constexpr const char* kFormatKey = "statestream_stream";

std::string stage_key(std::size_t i) { return "stage." + std::to_string(i); }
}  // namespace

std::vector<std::byte> save_stream(const Pipeline& pipeline) {
    std::vector<float> state(pipeline.state_floats());
    pipeline.save_state(state);
    std::map<std::string, std::string> metadata = {
        {kFormatKey, std::to_string(kStreamSnapshotFormatVersion)},
        {"stages", std::to_string(pipeline.size())}};
    std::vector<models::F32Tensor> tensors;
    std::span<const float> rest(state);
    for (std::size_t i = 0; i < pipeline.size(); ++i) {
        const Stage& stage = pipeline.stage(i);
        metadata[stage_key(i)] = stage.identity();
        tensors.push_back({stage_key(i), rest.first(stage.state_floats())});
        rest = rest.subspan(stage.state_floats());
    }
    return models::write_safetensors(metadata, tensors);
}

void restore_stream(Pipeline& pipeline, std::span<const std::byte> bytes, const std::string& source) {
    const models::AlignedCopy aligned(bytes);
    models::SafetensorsView view;
    try {
        view = models::SafetensorsView::parse(aligned.bytes(), source);
    } catch (const models::ModelFileError& error) {
        throw StreamSnapshotError(std::string(error.what()) + " (not a readable stream snapshot)");
    }
    const auto& metadata = view.metadata();
    const auto field = [&](const std::string& key) -> const std::string* {
        const auto it = metadata.find(key);
        return it == metadata.end() ? nullptr : &it->second;
    };
    const std::string* format = field(kFormatKey);
    if (format == nullptr) {
        throw StreamSnapshotError(source + ": is not a stream snapshot (no \"" + kFormatKey +
                                  "\" in its metadata)");
    }
    if (*format != std::to_string(kStreamSnapshotFormatVersion)) {
        throw StreamSnapshotError(source + ": is a stream snapshot of format " + *format + ", this build reads " +
                                  std::to_string(kStreamSnapshotFormatVersion));
    }
    const std::string* stages = field("stages");
    if (stages == nullptr || *stages != std::to_string(pipeline.size())) {
        throw StreamSnapshotError(source + ": was saved from a pipeline of " + (stages ? *stages : "?") +
                                  " stages, this one has " + std::to_string(pipeline.size()));
    }
    std::vector<float> state(pipeline.state_floats());
    std::size_t at = 0;
    for (std::size_t i = 0; i < pipeline.size(); ++i) {
        const Stage& stage = pipeline.stage(i);
        const std::string* identity = field(stage_key(i));
        if (identity == nullptr || *identity != stage.identity()) {
            throw StreamSnapshotError(source + ": stage " + std::to_string(i + 1) + " was \"" +
                                      (identity ? *identity : "?") + "\" when saved, this pipeline has \"" +
                                      stage.identity() + "\"; a stream state only restores into the pipeline "
                                      "that saved it");
        }
        const auto* record = view.find(stage_key(i));
        const std::size_t count = record == nullptr ? 0 : static_cast<std::size_t>(record->element_count);
        if (count != stage.state_floats() || (record != nullptr && record->dtype != models::DType::kF32)) {
            throw StreamSnapshotError(source + ": stage " + std::to_string(i + 1) + " holds " +
                                      std::to_string(count) + " state floats, the stage has " +
                                      std::to_string(stage.state_floats()));
        }
        if (count != 0) std::memcpy(state.data() + at, record->bytes.data(), count * sizeof(float));
        for (std::size_t k = 0; k < count; ++k) {
            if (!std::isfinite(state[at + k])) {
                throw StreamSnapshotError(source + ": stage " + std::to_string(i + 1) +
                                          " holds a non-finite value at index " + std::to_string(k));
            }
        }
        if (!stage.accepts_state(std::span<const float>(state).subspan(at, count))) {
            throw StreamSnapshotError(source + ": stage " + std::to_string(i + 1) + " (\"" +
                                      stage.identity() + "\") holds a state no stream can have "
                                      "(a count or position that is negative, fractional or out "
                                      "of range): the snapshot is corrupt. Save the stream again.");
        }
        at += count;
    }
    pipeline.restore_state(state);
}

}  // namespace statestream::engine
