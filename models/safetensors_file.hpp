#pragma once
// The safetensors container: an 8-byte little-endian header length, a JSON header that maps each
// tensor name to {dtype, shape, data_offsets} (plus an optional "__metadata__" object of strings),
// then the raw little-endian tensor bytes. This layer checks the container only: every offset,
// size and dtype against the bytes that are really there. What the tensors must be is the
// architecture's business (model_file.hpp).

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/dtype.hpp"

namespace statestream::models {

// A header larger than this is refused before it is parsed. Our models' headers are a few kB;
// 16 MiB leaves room for thousands of tensors and stops a hostile length from costing memory.
inline constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 16ULL << 20;
// JSON nesting deeper than this is refused: a valid header nests three levels.
inline constexpr int kMaxSafetensorsHeaderDepth = 16;
// Tensors of more dimensions than this are refused; blocks use at most four.
inline constexpr std::size_t kMaxTensorRank = 8;

struct TensorRecord {
    std::string name;
    DType dtype = DType::kF32;
    std::vector<std::uint64_t> shape;      // row-major, outermost first
    std::uint64_t element_count = 0;       // product of shape (1 for a scalar)
    std::span<const std::byte> bytes;      // exactly element_count * dtype_bytes(dtype), aligned
};

class SafetensorsView {
public:
    // Thread: setup. Parses `file` (which must outlive the view) and checks the header length,
    // the JSON, every dtype, shape and offset, alignment and overlaps. Throws ModelFileError
    // whose message starts with `source` and names the tensor and the problem.
    static SafetensorsView parse(std::span<const std::byte> file, const std::string& source);

    [[nodiscard]] const std::map<std::string, std::string>& metadata() const noexcept {
        return metadata_;
    }
    // In file order of their data offsets.
    [[nodiscard]] const std::vector<TensorRecord>& tensors() const noexcept { return tensors_; }
    // nullptr when absent.
    [[nodiscard]] const TensorRecord* find(std::string_view name) const noexcept;
    [[nodiscard]] std::uint64_t header_bytes() const noexcept { return header_bytes_; }

private:
    std::map<std::string, std::string> metadata_;
    std::vector<TensorRecord> tensors_;
    std::uint64_t header_bytes_ = 0;
};

// "[4, 16]" for error messages and `statestream info`.
[[nodiscard]] std::string shape_string(std::span<const std::uint64_t> shape);

}  // namespace statestream::models
