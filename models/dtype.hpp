#pragma once
// Element types a safetensors file may declare. Only the ones a block can use are listed;
// any other dtype string in a file is reported by name as unsupported.

#include <cstddef>
#include <optional>
#include <string_view>

namespace statestream::models {

// F64 appears only in golden fixtures (data/fixtures/); model weights are F32.
enum class DType { kF32, kF16, kBF16, kF64 };

// "F32" -> kF32 and so on, as the safetensors format spells them; nullopt for anything else.
[[nodiscard]] std::optional<DType> parse_dtype(std::string_view name) noexcept;
[[nodiscard]] std::string_view dtype_name(DType dtype) noexcept;
[[nodiscard]] std::size_t dtype_bytes(DType dtype) noexcept;

}  // namespace statestream::models
