#pragma once
// The tensors an architecture needs, by name and shape. The loader checks a file against this
// list in both directions (every expected tensor present with its shape, nothing extra), and the
// PyTorch exporter (models/train/) writes the same names.

#include <cstdint>
#include <string>
#include <vector>

#include "models/architecture.hpp"

namespace statestream::models {

struct ExpectedTensor {
    std::string name;                    // "layers.0.mixer.A_log"
    std::vector<std::uint64_t> shape;
    std::string origin;                  // why this shape, for error messages: "n_heads = 4"
};

// Thread: setup. In a fixed order: input projection, each layer, final norm, head.
[[nodiscard]] std::vector<ExpectedTensor> expected_tensors(const Architecture& architecture);

}  // namespace statestream::models
