// The deadline meter: bucket bounds, percentiles within one bucket, misses, and a reader on
// another thread while the writer records.

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "engine/deadline_meter.hpp"

using statestream::engine::DeadlineMeter;

TEST_CASE("Every value lands in a bucket whose bounds hold it, within 12.5 %", "[engine][deadline]") {
    std::int64_t previous_upper = 0;
    for (int b = 0; b < DeadlineMeter::kBuckets - 1; ++b) {
        const std::int64_t upper = DeadlineMeter::upper_bound(b);
        REQUIRE(upper > previous_upper);
        REQUIRE(DeadlineMeter::bucket_of(upper - 1) == b);
        REQUIRE(DeadlineMeter::bucket_of(upper) == b + 1);
        if (previous_upper >= 8) REQUIRE(double(upper) / double(previous_upper) <= 1.125 + 1e-12);
        previous_upper = upper;
    }
    CHECK(DeadlineMeter::bucket_of(std::int64_t{1} << 62) == DeadlineMeter::kBuckets - 1);
}

TEST_CASE("Percentiles, misses, max and mean of known steps", "[engine][deadline]") {
    DeadlineMeter meter(10'000);  // 10 us
    for (int i = 0; i < 9800; ++i) meter.record(1'000);  // 1 us
    for (int i = 0; i < 189; ++i) meter.record(20'000);  // 20 us: misses
    for (int i = 0; i < 11; ++i) meter.record(5'000'000);  // 5 ms stalls: just over the top 0.1 %
    const auto s = meter.statistics();
    CHECK(s.steps == 10000);
    CHECK(s.misses == 200);
    CHECK(s.max_ns == 5'000'000);
    CHECK(s.mean_ns == Approx((9800.0 * 1'000 + 189.0 * 20'000 + 11.0 * 5'000'000) / 10000.0));
    // Nearest rank, reported as the bucket's upper bound: within 12.5 % above the value.
    CHECK(s.p50_ns >= 1'000);
    CHECK(s.p50_ns <= 1'125);
    CHECK(s.p99_ns >= 20'000);
    CHECK(s.p99_ns <= 22'500);
    CHECK(s.p999_ns == 5'000'000);  // capped at the exact max
    meter.clear();
    CHECK(meter.statistics().steps == 0);
}

TEST_CASE("A reader thread sees counts grow while the writer records", "[engine][deadline]") {
    DeadlineMeter meter(1'000'000);
    std::atomic<bool> done{false};
    std::uint64_t last_seen = 0;
    bool monotonic = true;
    std::thread reader([&] {
        while (!done.load(std::memory_order_acquire)) {
            const auto steps = meter.statistics().steps;
            if (steps < last_seen) monotonic = false;
            last_seen = steps;
        }
    });
    for (int i = 0; i < 200'000; ++i) meter.record(i % 5000);
    done.store(true, std::memory_order_release);
    reader.join();
    CHECK(monotonic);
    CHECK(meter.statistics().steps == 200'000);
}
