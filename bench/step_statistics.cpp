#include "bench/step_statistics.hpp"

#include <algorithm>
#include <numeric>

namespace statestream::bench {

void StepStatistics::finish() { std::sort(ns_.begin(), ns_.end()); }

double StepStatistics::quantile_ns(double quantile) const noexcept {
    if (ns_.empty()) return 0.0;
    const auto rank = static_cast<std::size_t>(quantile * static_cast<double>(ns_.size()));
    return ns_[std::min(ns_.size() - 1, rank)];
}

double StepStatistics::sum_ns() const noexcept { return std::accumulate(ns_.begin(), ns_.end(), 0.0); }

double StepStatistics::mean_ns() const noexcept {
    return ns_.empty() ? 0.0 : sum_ns() / static_cast<double>(ns_.size());
}

}  // namespace statestream::bench
