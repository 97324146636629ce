#pragma once
// CPU times of repeated calls (one 10 ms step, hop or round each) and their summary, as every
// benchmark reports them: mean, percentiles, max and sum. Percentiles are the nearest rank
// below (the sample at index floor(q * n) of the sorted times), so p99 of 100 samples is the
// largest and no value is interpolated between two measurements.

#include <cstddef>
#include <vector>

namespace statestream::bench {

class StepStatistics {
public:
    // Thread: the bench's. Appends one measurement in nanoseconds.
    void add(double ns) { ns_.push_back(ns); }
    // Sorts the measurements; call once after the last add() and before any summary.
    void finish();

    // 0 for an empty set, so a row that measured nothing prints zeros rather than failing.
    [[nodiscard]] double quantile_ns(double quantile) const noexcept;
    [[nodiscard]] double mean_ns() const noexcept;
    [[nodiscard]] double max_ns() const noexcept { return ns_.empty() ? 0.0 : ns_.back(); }
    [[nodiscard]] double sum_ns() const noexcept;
    [[nodiscard]] std::size_t count() const noexcept { return ns_.size(); }

private:
    std::vector<double> ns_;  // sorted by finish()
};

}  // namespace statestream::bench
