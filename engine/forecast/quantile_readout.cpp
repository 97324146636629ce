#include "engine/forecast/quantile_readout.hpp"

#include <algorithm>
#include <cmath>

namespace statestream::engine::forecast {

namespace {

// A median error counts at most 3 scales, so one outlier moves the offset by at most 3 eta_b.
constexpr double kErrorClamp = 3.0;
// The offset stays within 10 scales and the width factor within e^+-2 (x0.14 .. x7.4): enough
// to absorb a level shift or a too-narrow model, not enough to run away on a broken stream.
constexpr double kOffsetLimit = 10.0;
constexpr double kLogWidthLimit = 2.0;

enum Entry : std::size_t { kMade, kScale, kQuantiles };

// log(1 + e^x) in the form that never overflows, the reference's (forecaster._softplus).
double softplus(double x) noexcept { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }

bool is_flag(float f) noexcept { return f == 0.0f || f == 1.0f; }

}  // namespace

QuantileZ quantile_head(std::span<const float, 3> raw, double offset, double log_width) noexcept {
    const double z50 = raw[0];
    const double width = std::exp(log_width);
    const double z50_adapted = z50 + offset;
    return {z50_adapted - width * softplus(raw[1]), z50_adapted,
            z50_adapted + width * softplus(raw[2])};
}

QuantileReadout::QuantileReadout(const models::ForecastSpec& spec, bool adapt)
    : horizon_(spec.horizon),
      adapt_(adapt),
      offset_rate_(spec.adapt_offset_rate),
      width_rate_(spec.adapt_width_rate),
      miss_target_(1.0 - spec.coverage),
      off_(spec.horizon, 0.0f),
      g_(spec.horizon, 0.0f),
      ring_(std::size_t{spec.horizon} * (2 + 3 * std::size_t{spec.horizon}), 0.0f) {}

void QuantileReadout::adapt(float value) noexcept {
    if (!adapt_ || !std::isfinite(value)) return;
    const double v = value;
    const std::size_t H = horizon_;
    for (std::size_t h = 1; h <= H; ++h) {
        const float* made = entry((ring_next_ + H - h) % H);
        if (made[kMade] == 0.0f) continue;
        const double scale = made[kScale];
        const double q10 = made[kQuantiles + (h - 1)];
        const double q50 = made[kQuantiles + H + (h - 1)];
        const double q90 = made[kQuantiles + 2 * H + (h - 1)];
        const double error = std::clamp((v - q50) / scale, -kErrorClamp, kErrorClamp);
        off_[h - 1] = static_cast<float>(
            std::clamp(static_cast<double>(off_[h - 1]) + offset_rate_ * error, -kOffsetLimit, kOffsetLimit));
        const double missed = (v < q10 || v > q90) ? 1.0 : 0.0;
        g_[h - 1] = static_cast<float>(std::clamp(
            static_cast<double>(g_[h - 1]) + width_rate_ * (missed - miss_target_), -kLogWidthLimit,
            kLogWidthLimit));
    }
}

void QuantileReadout::forecast(std::span<const float> raw, std::span<const double> anchors,
                               double scale, std::span<float> q10, std::span<float> q50,
                               std::span<float> q90) noexcept {
    const std::size_t H = horizon_;
    float* made = entry(ring_next_);
    made[kMade] = 1.0f;
    made[kScale] = static_cast<float>(scale);
    float* r10 = made + kQuantiles;
    float* r50 = r10 + H;
    float* r90 = r50 + H;
    for (std::size_t h = 0; h < H; ++h) {
        const QuantileZ z = quantile_head(std::span<const float, 3>(raw.data() + 3 * h, 3),
                                          off_[h], g_[h]);
        r10[h] = static_cast<float>(anchors[h] + scale * z.z10);
        r50[h] = static_cast<float>(anchors[h] + scale * z.z50);
        r90[h] = static_cast<float>(anchors[h] + scale * z.z90);
    }
    std::copy_n(r10, q10.size(), q10.begin());
    std::copy_n(r50, q50.size(), q50.begin());
    std::copy_n(r90, q90.size(), q90.begin());
    ring_next_ = static_cast<std::uint32_t>((ring_next_ + 1) % H);
}

void QuantileReadout::skip() noexcept {
    entry(ring_next_)[kMade] = 0.0f;
    ring_next_ = static_cast<std::uint32_t>((ring_next_ + 1) % horizon_);
}

std::size_t QuantileReadout::state_floats() const noexcept {
    return 2 * std::size_t{horizon_} + ring_.size() + 1;
}

void QuantileReadout::save_state(std::span<float> out) const noexcept {
    auto at = std::copy(off_.begin(), off_.end(), out.begin());
    at = std::copy(g_.begin(), g_.end(), at);
    at = std::copy(ring_.begin(), ring_.end(), at);
    *at = static_cast<float>(ring_next_);
}

bool QuantileReadout::restore_state(std::span<const float> in) noexcept {
    if (in.size() != state_floats()) return false;
    const std::size_t H = horizon_;
    for (const float f : in) {
        if (!std::isfinite(f)) return false;
    }
    for (std::size_t h = 0; h < H; ++h) {
        if (std::abs(in[h]) > kOffsetLimit || std::abs(in[H + h]) > kLogWidthLimit) return false;
    }
    const std::span<const float> ring = in.subspan(2 * H, ring_.size());
    for (std::size_t slot = 0; slot < H; ++slot) {
        if (!is_flag(ring[slot * entry_floats() + kMade])) return false;
    }
    const float next = in.back();
    if (next < 0.0f || next >= static_cast<float>(H) || next != std::floor(next)) return false;

    if (adapt_) {
        std::copy_n(in.begin(), H, off_.begin());
        std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(H), H, g_.begin());
    } else {  // a stream saved with adaptation, resumed without: off = g = 0, as documented
        std::fill(off_.begin(), off_.end(), 0.0f);
        std::fill(g_.begin(), g_.end(), 0.0f);
    }
    std::copy(ring.begin(), ring.end(), ring_.begin());
    ring_next_ = static_cast<std::uint32_t>(next);
    return true;
}

void QuantileReadout::reset() noexcept {
    std::fill(off_.begin(), off_.end(), 0.0f);
    std::fill(g_.begin(), g_.end(), 0.0f);
    std::fill(ring_.begin(), ring_.end(), 0.0f);
    ring_next_ = 0;
}

}  // namespace statestream::engine::forecast
