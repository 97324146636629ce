#pragma once
// Which streams one call of a block advances, and by how many steps. A block's input and output
// rows are stream-major: stream 0's `steps` consecutive steps, then stream 1's, and so on. One
// stream with many steps is forward() over a chunk; many streams with one step each is the
// batched step, where every weight row read from memory serves all the streams at once.

#include <cstddef>
#include <span>

namespace statestream::models {

struct StreamBatch {
    std::span<float* const> states;  // per stream: this layer's state (block_state.hpp layout)
    std::size_t steps = 1;           // consecutive steps per stream
    [[nodiscard]] std::size_t rows() const noexcept { return states.size() * steps; }
};

}  // namespace statestream::models
