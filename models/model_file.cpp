#include "models/model_file.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "models/model_file_error.hpp"
#include "models/tensor_schema.hpp"

namespace statestream::models {

namespace {

constexpr const char* kReexport = " Re-export the model (docs/model_format.md).";

// FNV-1a, 64-bit (Fowler, Noll, Vo; the offset basis and prime of the published spec). One
// multiply per byte, about 1 GB/s: a 100 MB model adds ~0.1 s to a load that already reads every
// weight to check it is finite, so the pages are touched anyway.
constexpr std::uint64_t kFnv1a64OffsetBasis = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kFnv1a64Prime = 0x00000100000001b3ULL;

std::string fnv1a_64_hex(std::span<const std::byte> bytes) {
    std::uint64_t hash = kFnv1a64OffsetBasis;
    for (const std::byte b : bytes) {
        hash ^= static_cast<std::uint64_t>(b);
        hash *= kFnv1a64Prime;
    }
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
    return text;
}

std::span<const float> as_floats(const TensorRecord& record) noexcept {
    // Alignment to 4 bytes was checked when the container was parsed.
    return {reinterpret_cast<const float*>(record.bytes.data()),
            static_cast<std::size_t>(record.element_count)};
}

}  // namespace

ModelFile ModelFile::load(const std::filesystem::path& path) {
    ModelFile model;
    model.source_ = path.string();
    model.mapping_.emplace(path);
    model.file_bytes_ = model.mapping_->bytes().size();
    model.view_ = SafetensorsView::parse(model.mapping_->bytes(), model.source_);
    model.validate();
    // Hashed only once accepted: a refused (or fuzzed) file costs no pass over its bytes.
    model.fingerprint_ = fnv1a_64_hex(model.mapping_->bytes());
    return model;
}

ModelFile ModelFile::parse(std::span<const std::byte> bytes, const std::string& source) {
    ModelFile model;
    model.source_ = source;
    model.file_bytes_ = bytes.size();
    model.view_ = SafetensorsView::parse(bytes, source);
    model.validate();
    model.fingerprint_ = fnv1a_64_hex(bytes);
    return model;
}

void ModelFile::validate() {
    description_ = parse_model_description(view_.metadata(), source_);
    const std::vector<ExpectedTensor> expected = expected_tensors(description_.architecture);

    for (const ExpectedTensor& want : expected) {
        const TensorRecord* got = view_.find(want.name);
        if (got == nullptr) {
            throw ModelFileError(source_, "tensor '" + want.name + "' is missing; the declared "
                                          "architecture needs it with shape " +
                                          shape_string(want.shape) + " (" + want.origin + ")." +
                                          kReexport);
        }
        if (got->dtype != DType::kF32) {
            throw ModelFileError(source_, "tensor '" + want.name + "' has dtype " +
                                              std::string(dtype_name(got->dtype)) +
                                              ", expected F32 (this build runs float32 "
                                              "weights)." + kReexport);
        }
        if (got->shape != want.shape) {
            throw ModelFileError(source_, "tensor '" + want.name + "' has shape " +
                                              shape_string(got->shape) + ", expected " +
                                              shape_string(want.shape) + " (" + want.origin +
                                              " in __metadata__)." + kReexport);
        }
        const auto values = as_floats(*got);
        for (std::size_t i = 0; i < values.size(); ++i) {
            if (!std::isfinite(values[i])) {
                throw ModelFileError(source_, "tensor '" + want.name + "' holds a non-finite "
                                                  "value (" + std::to_string(values[i]) +
                                                  ") at flat index " + std::to_string(i) +
                                                  ": the training diverged or the file is "
                                                  "corrupt.");
            }
        }
        parameter_count_ += got->element_count;
    }
    if (view_.tensors().size() != expected.size()) {
        for (const TensorRecord& record : view_.tensors()) {
            bool known = false;
            for (const ExpectedTensor& want : expected) known = known || want.name == record.name;
            if (!known) {
                throw ModelFileError(source_, "tensor '" + record.name + "' is not part of the "
                                                  "architecture declared in __metadata__: the "
                                                  "metadata and the weights disagree." + kReexport);
            }
        }
    }
}

std::string ModelFile::identity() const {
    return "'" + description_.recipe.name + "' (" + source_ + ", fingerprint " + fingerprint_ + ")";
}

std::span<const float> ModelFile::tensor(std::string_view name) const {
    const TensorRecord* record = view_.find(name);
    if (record == nullptr) {
        throw std::out_of_range(source_ + ": no tensor named '" + std::string(name) + "'");
    }
    return as_floats(*record);
}

}  // namespace statestream::models
