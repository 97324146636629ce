#pragma once
// Writes the safetensors container that safetensors_file.hpp reads: the u64 header length, the
// JSON header padded with spaces so the data starts 8-byte aligned, then the tensors' bytes in
// order. Used for state and stream snapshots; models themselves are written by the exporter in
// models/train/.

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

namespace statestream::models {

struct F32Tensor {
    std::string name;
    std::span<const float> values;  // written as a 1-D F32 tensor, little-endian, as is
};

// Thread: setup or worker (allocates). Metadata values that are not valid UTF-8 have their bad
// bytes replaced (U+FFFD), so a path never makes writing fail. Empty tensors are left out.
[[nodiscard]] std::vector<std::byte> write_safetensors(const std::map<std::string, std::string>& metadata,
                                                       std::span<const F32Tensor> tensors);

}  // namespace statestream::models
