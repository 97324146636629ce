#include "engine/deadline_meter.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

#include <fmt/core.h>

namespace statestream::engine {

int DeadlineMeter::bucket_of(std::int64_t ns) noexcept {
    // Values below kSubBuckets get one bucket each; above, the top bit picks the octave and the
    // next three bits the sub-bucket.
    const auto value = static_cast<std::uint64_t>(ns < 0 ? 0 : ns);
    if (value < kSubBuckets) return static_cast<int>(value);
    const int top = 63 - std::countl_zero(value);  // >= 3
    const int octave = top - 2;                    // 1.. for value >= 8
    const auto sub = static_cast<int>((value >> (top - 3)) & (kSubBuckets - 1));
    const int bucket = octave * kSubBuckets + sub;
    return bucket < kBuckets ? bucket : kBuckets - 1;
}

std::int64_t DeadlineMeter::upper_bound(int bucket) noexcept {
    if (bucket < kSubBuckets) return bucket + 1;
    const int octave = bucket / kSubBuckets;
    const int sub = bucket % kSubBuckets;
    const int top = octave + 2;
    return static_cast<std::int64_t>((std::uint64_t{kSubBuckets} + static_cast<std::uint64_t>(sub) + 1)
                                     << (top - 3));
}

StepStatistics DeadlineMeter::statistics() const noexcept {
    StepStatistics stats;
    stats.deadline_ns = deadline_ns_;
    std::array<std::uint64_t, kBuckets> counts{};
    std::uint64_t total = 0;
    for (int b = 0; b < kBuckets; ++b) {
        counts[static_cast<std::size_t>(b)] = buckets_[static_cast<std::size_t>(b)].load(std::memory_order_relaxed);
        total += counts[static_cast<std::size_t>(b)];
    }
    stats.steps = total;
    stats.misses = misses_.load(std::memory_order_relaxed);
    stats.max_ns = max_ns_.load(std::memory_order_relaxed);
    const std::uint64_t recorded = steps_.load(std::memory_order_relaxed);
    stats.mean_ns = recorded == 0 ? 0.0
                                  : static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) /
                                        static_cast<double>(recorded);
    // Nearest rank: the smallest recorded value with at least `fraction` of all at or below it.
    const auto percentile = [&](double fraction) -> std::int64_t {
        if (total == 0) return 0;
        const auto rank = static_cast<std::uint64_t>(std::ceil(fraction * static_cast<double>(total)));
        std::uint64_t seen = 0;
        for (int b = 0; b < kBuckets; ++b) {
            seen += counts[static_cast<std::size_t>(b)];
            if (seen >= rank) return std::min(upper_bound(b), stats.max_ns);
        }
        return stats.max_ns;
    };
    stats.p50_ns = percentile(0.50);
    stats.p99_ns = percentile(0.99);
    stats.p999_ns = percentile(0.999);
    return stats;
}

void DeadlineMeter::clear() noexcept {
    for (auto& bucket : buckets_) bucket.store(0, std::memory_order_relaxed);
    steps_.store(0, std::memory_order_relaxed);
    misses_.store(0, std::memory_order_relaxed);
    sum_ns_.store(0, std::memory_order_relaxed);
    max_ns_.store(0, std::memory_order_relaxed);
}

std::string statistics_json(const StepStatistics& s) {
    return fmt::format(
        R"({{"deadline_us": {:.3f}, "steps": {}, "misses": {}, "p50_us": {:.3f}, "p99_us": {:.3f}, )"
        R"("p999_us": {:.3f}, "max_us": {:.3f}, "mean_us": {:.3f}}})",
        static_cast<double>(s.deadline_ns) / 1e3, s.steps, s.misses, static_cast<double>(s.p50_ns) / 1e3,
        static_cast<double>(s.p99_ns) / 1e3, static_cast<double>(s.p999_ns) / 1e3,
        static_cast<double>(s.max_ns) / 1e3, s.mean_ns / 1e3);
}

std::string statistics_line(const StepStatistics& s) {
    return fmt::format("steps {}, misses {} (deadline {:.3f} ms), p50 {:.1f} us, p99 {:.1f} us, "
                       "p99.9 {:.1f} us, max {:.1f} us, mean {:.1f} us",
                       s.steps, s.misses, static_cast<double>(s.deadline_ns) / 1e6,
                       static_cast<double>(s.p50_ns) / 1e3, static_cast<double>(s.p99_ns) / 1e3,
                       static_cast<double>(s.p999_ns) / 1e3, static_cast<double>(s.max_ns) / 1e3,
                       s.mean_ns / 1e3);
}

}  // namespace statestream::engine
