#pragma once
// A counter that exactly one thread (a real-time one) increments and any thread reads: a plain
// relaxed load and store, with no read-modify-write instruction (no locked bus cycle) on the
// real-time path. Readers see a recent value, never a torn one.

#include <atomic>
#include <cstdint>

namespace statestream::engine {

// Thread: the counter's one writer.
inline void increment_single_writer(std::atomic<std::uint64_t>& counter) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

inline void add_single_writer(std::atomic<std::uint64_t>& counter, std::uint64_t n) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace statestream::engine
