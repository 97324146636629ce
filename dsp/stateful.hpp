#pragma once
// How a stream's signal state is snapshotted, not only its model state: every stateful dsp
// block exposes its state as a fixed number of floats (framing tails, overlap-add buffers,
// resampler history, normaliser moments), so the engine can save a whole stream, move it to
// another instance, or fork it. Counters kept in that state stay below 2^24, where floats are
// exact integers.

#include <concepts>
#include <cstddef>
#include <span>

namespace statestream::dsp {

template <typename Block>
concept StatefulBlock = requires(Block& block, const Block& view, std::span<float> out,
                                 std::span<const float> in) {
    // Thread: any. The number of floats save_state() writes; fixed at construction.
    { view.state_floats() } -> std::convertible_to<std::size_t>;
    // Thread: real-time. out.size() == state_floats().
    { view.save_state(out) } noexcept;
    // Thread: real-time. in.size() == state_floats(), from save_state() of a block built with
    // the same configuration; afterwards the block continues exactly as the saved one would.
    { block.restore_state(in) } noexcept;
    // Thread: real-time. Back to the state right after construction (a new stream).
    { block.reset() } noexcept;
};

}  // namespace statestream::dsp
