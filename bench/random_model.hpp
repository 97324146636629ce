#pragma once
// A complete statestream model file built in memory from an Architecture, with seeded random
// weights in the ranges training starts from (decay rates, dt biases and norms included), so
// the benchmark can run any block type through the real loader and SsmModel without a file.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "models/architecture.hpp"

namespace statestream::bench {

// The "architecture" metadata document (docs/model_format.md) for `architecture`.
[[nodiscard]] std::string architecture_json(const models::Architecture& architecture);

// Thread: setup. Safetensors bytes of a valid model (task "test", front-end "none"). The
// vector's storage is 8-byte aligned enough for ModelFile::parse (operator new aligns to 16).
[[nodiscard]] std::vector<std::byte> random_model_bytes(const models::Architecture& architecture,
                                                        std::uint64_t seed);

}  // namespace statestream::bench
