#include "engine/forecast/quantile_readout.hpp"

#include <algorithm>
#include <cmath>

namespace statestream::engine::forecast {

namespace {

// A residual counts at most 3 scales in mu and s, so one outlier that is not a break moves the
// offset by at most 3 rho; mu stays within +-3 and s within [0, 9].
constexpr double kResidualClamp = 3.0;
// The width factor stays within e^+-2 (x0.14 .. x7.4): enough for a too-narrow or too-wide
// model, not enough to run away on a broken stream.
constexpr double kLogWidthLimit = 2.0;

enum Entry : std::size_t { kMade, kScale, kAnchor1, kZeta1, kQuantiles };

// log(1 + e^x) in the form that never overflows, the reference's (forecaster._softplus).
double softplus(double x) noexcept { return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x))); }

bool is_flag(float f) noexcept { return f == 0.0f || f == 1.0f; }

}  // namespace

QuantileZ quantile_head(std::span<const float, 3> raw, double pullback, double offset,
                        double log_width) noexcept {
    const double width = std::exp(log_width);
    const double z50 = pullback * raw[0] + offset;
    return {z50 - width * softplus(raw[1]), z50, z50 + width * softplus(raw[2])};
}

QuantileReadout::QuantileReadout(const models::ForecastSpec& spec, bool adapt)
    : horizon_(spec.horizon),
      adapt_(adapt),
      offset_rate_(spec.adapt_offset_rate),
      width_rate_(spec.adapt_width_rate),
      miss_target_(1.0 - spec.coverage),
      break_sigmas_(spec.adapt_break_sigmas),
      shift_sigmas_(spec.adapt_shift_sigmas),
      pullback_ticks_(spec.adapt_pullback_ticks),
      pullback_prior_(spec.adapt_pullback_prior),
      g_(spec.horizon, 0.0f),
      mu_(spec.horizon, 0.0f),
      s_(spec.horizon, 0.0f),
      since_shift_(spec.adapt_pullback_ticks),
      ring_(std::size_t{spec.horizon} * (4 + 3 * std::size_t{spec.horizon}), 0.0f) {}

double QuantileReadout::offset(std::size_t index) const noexcept {
    const double mean = mu_[index];
    const double noise = std::max(static_cast<double>(s_[index]) - mean * mean, 0.0);
    // The noise of an EW mean over residuals of horizon h, which overlap h ticks, is about
    // rho h var: keep only the part of the mean above it (0 when the mean is within its noise).
    const double cut = offset_rate_ * static_cast<double>(index + 1) * noise;
    return mean * mean > cut ? mean - cut / mean : 0.0;
}

double QuantileReadout::pullback() const noexcept {
    if (!adapt_ || since_shift_ >= pullback_ticks_) return 1.0;
    const double ratio = (pullback_prior_ + static_cast<double>(pull_zu_)) /
                         (pullback_prior_ + static_cast<double>(pull_zz_));
    return std::clamp(ratio, 0.0, 1.0);
}

void QuantileReadout::forget_forecasts() noexcept {
    for (std::size_t slot = 0; slot < horizon_; ++slot) entry(slot)[kMade] = 0.0f;
}

void QuantileReadout::adapt(float value) noexcept {
    if (!adapt_) return;
    const double v = value;
    const bool finite = std::isfinite(value);
    const std::size_t H = horizon_;
    const float* one = entry((ring_next_ + H - 1) % H);  // the forecast made 1 tick ago
    const bool have_one = finite && one[kMade] == 1.0f;
    const double miss_one = have_one ? std::abs(v - one[kQuantiles + H]) / one[kScale] : 0.0;
    const bool shift = have_one && miss_one > shift_sigmas_;
    const bool broken = have_one && miss_one > break_sigmas_;
    if (shift) {
        pull_zz_ = pull_zu_ = 0.0f;
        since_shift_ = 0;
    } else {
        if (have_one && since_shift_ < pullback_ticks_) {
            const double zeta = one[kZeta1];
            const double moved = (v - one[kAnchor1]) / one[kScale];  // u
            pull_zz_ = static_cast<float>(static_cast<double>(pull_zz_) + zeta * zeta);
            pull_zu_ = static_cast<float>(static_cast<double>(pull_zu_) + zeta * moved);
        }
        since_shift_ = std::min(since_shift_ + 1, pullback_ticks_);
    }
    if (broken) {  // the forecasts made before a break describe a level that is gone
        forget_forecasts();
        return;
    }
    if (!finite) return;
    for (std::size_t h = 1; h <= H; ++h) {
        const float* made = entry((ring_next_ + H - h) % H);
        if (made[kMade] == 0.0f) continue;
        const double scale = made[kScale];
        const double q10 = made[kQuantiles + (h - 1)];
        const double median = made[kQuantiles + H + (h - 1)];
        const double q90 = made[kQuantiles + 2 * H + (h - 1)];
        const double residual = std::clamp((v - median) / scale, -kResidualClamp, kResidualClamp);
        const std::size_t k = h - 1;
        mu_[k] = static_cast<float>(static_cast<double>(mu_[k]) +
                                    offset_rate_ * (residual - static_cast<double>(mu_[k])));
        s_[k] = static_cast<float>(static_cast<double>(s_[k]) +
                                   offset_rate_ * (residual * residual - static_cast<double>(s_[k])));
        const double missed = (v < q10 || v > q90) ? 1.0 : 0.0;
        g_[k] = static_cast<float>(std::clamp(static_cast<double>(g_[k]) + width_rate_ * (missed - miss_target_),
                                              -kLogWidthLimit, kLogWidthLimit));
    }
}

void QuantileReadout::forecast(std::span<const float> raw, std::span<const double> anchors,
                               double scale, bool season_usable, std::span<float> q10,
                               std::span<float> q50, std::span<float> q90) noexcept {
    const std::size_t H = horizon_;
    // A seasonal anchor repeats last season's movement, which for P ticks after a shift holds
    // the shift itself; the model's pull-back then also corrects that, so beta stays 1.
    const double beta = season_usable ? 1.0 : pullback();
    float* made = entry(ring_next_);
    made[kMade] = 1.0f;
    made[kScale] = static_cast<float>(scale);
    made[kAnchor1] = static_cast<float>(anchors[0]);
    made[kZeta1] = raw[0];
    float* r10 = made + kQuantiles;
    float* r50 = r10 + H;  // the median before the offset: b_h + sigma' beta z50
    float* r90 = r50 + H;
    for (std::size_t h = 0; h < H; ++h) {
        const std::span<const float, 3> o(raw.data() + 3 * h, 3);
        const QuantileZ z = adapt_ ? quantile_head(o, beta, offset(h), g_[h]) : quantile_head(o, 1.0, 0.0, 0.0);
        const float low = static_cast<float>(anchors[h] + scale * z.z10);
        const float median = static_cast<float>(anchors[h] + scale * z.z50);
        const float high = static_cast<float>(anchors[h] + scale * z.z90);
        if (h < q10.size()) q10[h] = low;
        if (h < q50.size()) q50[h] = median;
        if (h < q90.size()) q90[h] = high;
        r10[h] = low;
        r50[h] = static_cast<float>(anchors[h] + scale * (beta * static_cast<double>(o[0])));
        r90[h] = high;
    }
    ring_next_ = static_cast<std::uint32_t>((ring_next_ + 1) % H);
}

void QuantileReadout::skip() noexcept {
    entry(ring_next_)[kMade] = 0.0f;
    ring_next_ = static_cast<std::uint32_t>((ring_next_ + 1) % horizon_);
}

std::size_t QuantileReadout::state_floats() const noexcept {
    return 3 * std::size_t{horizon_} + 3 + ring_.size() + 1;
}

void QuantileReadout::save_state(std::span<float> out) const noexcept {
    auto at = std::copy(g_.begin(), g_.end(), out.begin());
    at = std::copy(mu_.begin(), mu_.end(), at);
    at = std::copy(s_.begin(), s_.end(), at);
    *at++ = pull_zz_;
    *at++ = pull_zu_;
    *at++ = static_cast<float>(since_shift_);
    at = std::copy(ring_.begin(), ring_.end(), at);
    *at = static_cast<float>(ring_next_);
}

bool QuantileReadout::restore_state(std::span<const float> in) noexcept {
    if (in.size() != state_floats()) return false;
    const std::size_t H = horizon_;
    for (const float f : in) {
        if (!std::isfinite(f)) return false;
    }
    const auto is_count = [](float f, float high) { return f >= 0.0f && f <= high && f == std::floor(f); };
    for (std::size_t h = 0; h < H; ++h) {
        if (std::abs(in[h]) > kLogWidthLimit || std::abs(in[H + h]) > kResidualClamp ||
            in[2 * H + h] < 0.0f || in[2 * H + h] > kResidualClamp * kResidualClamp) {
            return false;
        }
    }
    const float zz = in[3 * H], zu = in[3 * H + 1], since = in[3 * H + 2];
    if (zz < 0.0f || !is_count(since, static_cast<float>(pullback_ticks_))) return false;
    const std::span<const float> ring = in.subspan(3 * H + 3, ring_.size());
    for (std::size_t slot = 0; slot < H; ++slot) {
        if (!is_flag(ring[slot * entry_floats() + kMade])) return false;
    }
    const float next = in.back();
    if (!is_count(next, static_cast<float>(H) - 1.0f)) return false;

    if (adapt_) {
        std::copy_n(in.begin(), H, g_.begin());
        std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(H), H, mu_.begin());
        std::copy_n(in.begin() + static_cast<std::ptrdiff_t>(2 * H), H, s_.begin());
        pull_zz_ = zz;
        pull_zu_ = zu;
        since_shift_ = static_cast<std::uint32_t>(since);
    } else {  // a stream saved with adaptation, resumed without: the plain head, as documented
        std::fill(g_.begin(), g_.end(), 0.0f);
        std::fill(mu_.begin(), mu_.end(), 0.0f);
        std::fill(s_.begin(), s_.end(), 0.0f);
        pull_zz_ = pull_zu_ = 0.0f;
        since_shift_ = pullback_ticks_;
    }
    std::copy(ring.begin(), ring.end(), ring_.begin());
    ring_next_ = static_cast<std::uint32_t>(next);
    return true;
}

void QuantileReadout::reset() noexcept {
    std::fill(g_.begin(), g_.end(), 0.0f);
    std::fill(mu_.begin(), mu_.end(), 0.0f);
    std::fill(s_.begin(), s_.end(), 0.0f);
    pull_zz_ = pull_zu_ = 0.0f;
    since_shift_ = pullback_ticks_;
    std::fill(ring_.begin(), ring_.end(), 0.0f);
    ring_next_ = 0;
}

}  // namespace statestream::engine::forecast
