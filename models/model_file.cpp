#include "models/model_file.hpp"

#include <cmath>
#include <cstring>
#include <stdexcept>

#include "models/model_file_error.hpp"
#include "models/tensor_schema.hpp"

namespace statestream::models {

namespace {

constexpr const char* kReexport = " Re-export the model (docs/model_format.md).";

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
    return model;
}

ModelFile ModelFile::parse(std::span<const std::byte> bytes, const std::string& source) {
    ModelFile model;
    model.source_ = source;
    model.file_bytes_ = bytes.size();
    model.view_ = SafetensorsView::parse(bytes, source);
    model.validate();
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

std::span<const float> ModelFile::tensor(std::string_view name) const {
    const TensorRecord* record = view_.find(name);
    if (record == nullptr) {
        throw std::out_of_range(source_ + ": no tensor named '" + std::string(name) + "'");
    }
    return as_floats(*record);
}

}  // namespace statestream::models
