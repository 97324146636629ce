#include "models/dtype.hpp"

namespace statestream::models {

std::optional<DType> parse_dtype(std::string_view name) noexcept {
    if (name == "F32") return DType::kF32;
    if (name == "F16") return DType::kF16;
    if (name == "BF16") return DType::kBF16;
    if (name == "F64") return DType::kF64;
    return std::nullopt;
}

std::string_view dtype_name(DType dtype) noexcept {
    switch (dtype) {
        case DType::kF32: return "F32";
        case DType::kF16: return "F16";
        case DType::kBF16: return "BF16";
        case DType::kF64: return "F64";
    }
    return "?";
}

std::size_t dtype_bytes(DType dtype) noexcept {
    switch (dtype) {
        case DType::kF32: return 4;
        case DType::kF16: return 2;
        case DType::kBF16: return 2;
        case DType::kF64: return 8;
    }
    return 0;
}

}  // namespace statestream::models
