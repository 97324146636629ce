#pragma once
// The recurrent state one stream keeps per layer, as named float tensors laid out back to back.
// A stream's whole state is one float array (models/ssm_model.hpp): layer by layer, tensor by
// tensor, in the order listed here. The reference (models/train/tensor_schema.py,
// state_tensors) uses the same names, shapes and order, so fixtures and snapshots line up.

#include <cstdint>
#include <string>
#include <vector>

#include "models/architecture.hpp"

namespace statestream::models {

struct StateTensor {
    std::string name;                   // "ssm", "conv", "prev_x", "prev_b", "angle", "keys", ...
    std::vector<std::uint64_t> shape;
    std::uint64_t offset = 0;           // floats from the start of the stream's state
    std::uint64_t count = 0;            // floats
};

// Thread: setup. One layer's state tensors, offsets counted from `first_offset`.
[[nodiscard]] std::vector<StateTensor> layer_state_tensors(const LayerSpec& layer,
                                                           std::uint32_t d_model,
                                                           std::uint64_t first_offset = 0);

// Floats of recurrent state one stream needs, all layers together, split by what they hold.
struct StateSize {
    std::uint64_t ssm_floats = 0;       // SSM states ("ssm")
    std::uint64_t history_floats = 0;   // conv tails, Mamba-3's previous input and angles
    std::uint64_t cache_floats = 0;     // attention key/value rings and their cursors
    [[nodiscard]] std::uint64_t floats() const noexcept {
        return ssm_floats + history_floats + cache_floats;
    }
    [[nodiscard]] std::uint64_t bytes() const noexcept { return floats() * 4; }
};
[[nodiscard]] StateSize state_size_per_stream(const Architecture& architecture);

}  // namespace statestream::models
