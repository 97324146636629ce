#pragma once
// Times every step of a real-time stage against its declared deadline. The real-time thread
// records into a log-linear histogram of relaxed atomics that only it writes; any other thread
// reads them at any time without waiting or locking (a wait-free, if not instantaneous,
// snapshot), and turns them into percentiles there, never on the real-time thread.

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "engine/single_writer_counter.hpp"

namespace statestream::engine {

struct StepStatistics {
    std::int64_t deadline_ns = 0;
    std::uint64_t steps = 0;
    std::uint64_t misses = 0;   // steps that took longer than the deadline
    std::int64_t p50_ns = 0;    // histogram bucket upper bounds: within 1/8 (12.5 %) above
    std::int64_t p99_ns = 0;
    std::int64_t p999_ns = 0;
    std::int64_t max_ns = 0;    // exact
    double mean_ns = 0.0;       // exact
};

class DeadlineMeter {
public:
    // 8 buckets per power of two from 1 ns to 2^40 ns (18 minutes); longer steps land in the last.
    static constexpr int kSubBuckets = 8;
    static constexpr int kOctaves = 41;
    static constexpr int kBuckets = kOctaves * kSubBuckets;

    // Thread: setup. deadline_ns > 0: the time one step may take (the hop, a tick budget).
    explicit DeadlineMeter(std::int64_t deadline_ns) noexcept : deadline_ns_(deadline_ns) {}

    [[nodiscard]] std::int64_t deadline_ns() const noexcept { return deadline_ns_; }

    // Thread: real-time (the one writer). O(1), no allocation, no lock, no RMW instruction.
    void record(std::int64_t elapsed_ns) noexcept {
        if (elapsed_ns < 0) elapsed_ns = 0;
        increment_single_writer(buckets_[static_cast<std::size_t>(bucket_of(elapsed_ns))]);
        increment_single_writer(steps_);
        if (elapsed_ns > deadline_ns_) increment_single_writer(misses_);
        sum_ns_.store(sum_ns_.load(std::memory_order_relaxed) + static_cast<std::uint64_t>(elapsed_ns),
                      std::memory_order_relaxed);
        if (elapsed_ns > max_ns_.load(std::memory_order_relaxed)) {
            max_ns_.store(elapsed_ns, std::memory_order_relaxed);
        }
    }

    // Thread: any. Reads the counters as they are now; a step recorded meanwhile may show in
    // some counters and not yet in others.
    [[nodiscard]] StepStatistics statistics() const noexcept;

    // Thread: setup (no real-time thread recording). Zeroes every counter.
    void clear() noexcept;

    // Bucket arithmetic, public for tests: values in [lower_bound(b), upper_bound(b)) land in b.
    [[nodiscard]] static int bucket_of(std::int64_t ns) noexcept;
    [[nodiscard]] static std::int64_t upper_bound(int bucket) noexcept;

private:
    std::int64_t deadline_ns_;
    std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
    std::atomic<std::uint64_t> steps_{0};
    std::atomic<std::uint64_t> misses_{0};
    std::atomic<std::uint64_t> sum_ns_{0};
    std::atomic<std::int64_t> max_ns_{0};
};

// Thread: any (allocates). One JSON object with the fields of StepStatistics, in microseconds.
[[nodiscard]] std::string statistics_json(const StepStatistics& stats);
// Thread: any (allocates). One human line: "steps 1200, misses 0 (deadline 10.0 ms), p50 ...".
[[nodiscard]] std::string statistics_line(const StepStatistics& stats);

}  // namespace statestream::engine
