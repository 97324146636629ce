#pragma once
// A single-producer/single-consumer lock-free ring of trivially copyable items (audio samples,
// feature frames, tokens, ticks) between two threads, one of which may be real-time.
//
// Capacity is a power of two fixed at construction, so an index wraps with a mask. Each side
// owns one index (written only by it, read by the other with acquire; published with release)
// and keeps a cached copy of the other side's index on its own cache line, so in steady state
// a push or pop touches no cache line the other thread writes. The indices count items ever
// pushed and popped (64-bit; they do not wrap in practice), so full and empty differ.

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace statestream::engine {

// 64 bytes on the x86-64 and ARM64 machines we run on; the standard constant is not stable
// across compilers' ABIs (GCC warns on its use in headers).
inline constexpr std::size_t kCacheLineBytes = 64;

template <typename T>
class SpscRing {
    static_assert(std::is_trivially_copyable_v<T>, "ring items are copied as bytes");

public:
    // Thread: setup. capacity: a power of two >= 2; allocates once.
    explicit SpscRing(std::size_t capacity) : items_(capacity), mask_(capacity - 1) {
        if (capacity < 2 || !std::has_single_bit(capacity)) {
            throw std::invalid_argument("SpscRing: capacity " + std::to_string(capacity) +
                                        " is not a power of two >= 2");
        }
    }

    [[nodiscard]] std::size_t capacity() const noexcept { return items_.size(); }

    // Thread: producer. False when full (nothing written).
    [[nodiscard]] bool try_push(const T& item) noexcept { return write({&item, 1}) == 1; }

    // Thread: consumer. False when empty.
    [[nodiscard]] bool try_pop(T& item) noexcept { return read({&item, 1}) == 1; }

    // Thread: producer. Writes as many of `items` as fit; returns how many.
    std::size_t write(std::span<const T> items) noexcept {
        const std::uint64_t head = producer_.head.load(std::memory_order_relaxed);
        std::uint64_t room = capacity() - (head - producer_.cached_tail);
        if (room < items.size()) {
            producer_.cached_tail = consumer_.tail.load(std::memory_order_acquire);
            room = capacity() - (head - producer_.cached_tail);
        }
        const std::size_t count = items.size() < room ? items.size() : static_cast<std::size_t>(room);
        for (std::size_t i = 0; i < count; ++i) items_[(head + i) & mask_] = items[i];
        producer_.head.store(head + count, std::memory_order_release);  // publish the items
        return count;
    }

    // Thread: consumer. Reads up to out.size() items; returns how many.
    std::size_t read(std::span<T> out) noexcept {
        const std::uint64_t tail = consumer_.tail.load(std::memory_order_relaxed);
        std::uint64_t ready = consumer_.cached_head - tail;
        if (ready < out.size()) {
            consumer_.cached_head = producer_.head.load(std::memory_order_acquire);
            ready = consumer_.cached_head - tail;
        }
        const std::size_t count = out.size() < ready ? out.size() : static_cast<std::size_t>(ready);
        for (std::size_t i = 0; i < count; ++i) out[i] = items_[(tail + i) & mask_];
        consumer_.tail.store(tail + count, std::memory_order_release);  // hand the slots back
        return count;
    }

    // Thread: consumer. Items ready now (a lower bound while the producer runs).
    [[nodiscard]] std::size_t readable() const noexcept {
        return static_cast<std::size_t>(producer_.head.load(std::memory_order_acquire) -
                                        consumer_.tail.load(std::memory_order_relaxed));
    }
    // Thread: producer. Free slots now (a lower bound while the consumer runs).
    [[nodiscard]] std::size_t writable() const noexcept {
        return capacity() - static_cast<std::size_t>(producer_.head.load(std::memory_order_relaxed) -
                                                     consumer_.tail.load(std::memory_order_acquire));
    }

private:
    struct alignas(kCacheLineBytes) ProducerSide {
        std::atomic<std::uint64_t> head{0};  // items ever pushed; written by the producer only
        std::uint64_t cached_tail = 0;       // the producer's last look at consumer_.tail
    };
    struct alignas(kCacheLineBytes) ConsumerSide {
        std::atomic<std::uint64_t> tail{0};  // items ever popped; written by the consumer only
        std::uint64_t cached_head = 0;       // the consumer's last look at producer_.head
    };

    std::vector<T> items_;
    std::size_t mask_;
    ProducerSide producer_;
    ConsumerSide consumer_;

    static_assert(sizeof(ProducerSide) == kCacheLineBytes && sizeof(ConsumerSide) == kCacheLineBytes,
                  "each side's index and cache fill exactly one line");
};

}  // namespace statestream::engine
