#pragma once
// A statestream model file, loaded and validated. Construction checks the container, the
// metadata, and every tensor against the declared architecture (presence, dtype, shape, finite
// values); after that, weights are read-only views into the mapped file, shared by every
// stream that runs the model.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/mapped_file.hpp"
#include "models/model_description.hpp"
#include "models/safetensors_file.hpp"

namespace statestream::models {

class ModelFile {
public:
    // Thread: setup. Maps `path` and validates it; throws ModelFileError naming the path, the
    // tensor or metadata field, and what is wrong.
    [[nodiscard]] static ModelFile load(const std::filesystem::path& path);
    // Thread: setup. The same checks over bytes the caller keeps alive for the model's lifetime
    // (fuzzing, embedded models). `source` names them in errors.
    [[nodiscard]] static ModelFile parse(std::span<const std::byte> bytes, const std::string& source);

    [[nodiscard]] const ModelDescription& description() const noexcept { return description_; }
    [[nodiscard]] const std::string& source() const noexcept { return source_; }
    // A tensor the architecture declares, as float32 values in row-major order. Throws
    // std::out_of_range for a name the schema does not have (a programming error).
    [[nodiscard]] std::span<const float> tensor(std::string_view name) const;
    [[nodiscard]] const std::vector<TensorRecord>& tensors() const noexcept { return view_.tensors(); }

    [[nodiscard]] std::uint64_t parameter_count() const noexcept { return parameter_count_; }
    [[nodiscard]] std::uint64_t file_bytes() const noexcept { return file_bytes_; }

    // The model's identity: FNV-1a 64 over every byte of the file (header and weights), as 16
    // lowercase hex digits, computed once at load. Two files share it only if their bytes are
    // equal (up to a 2^-64 accident), so a recurrent state saved under one fingerprint is only
    // meaningful to a model with the same one (models/state_snapshot.hpp). Not a security
    // hash: it catches mix-ups, not an adversary who crafts a collision.
    [[nodiscard]] const std::string& fingerprint() const noexcept { return fingerprint_; }
    // "'tiny-random' (data/models/tiny_mamba2.safetensors, fingerprint 0123456789abcdef)":
    // recipe name, source and fingerprint, for messages that must tell two models apart.
    [[nodiscard]] std::string identity() const;

private:
    ModelFile() = default;
    void validate();

    std::optional<MappedFile> mapping_;  // empty when parsed from caller-owned bytes
    std::string source_;
    SafetensorsView view_;
    ModelDescription description_;
    std::uint64_t parameter_count_ = 0;
    std::uint64_t file_bytes_ = 0;
    std::string fingerprint_;  // 16 hex digits
};

}  // namespace statestream::models
