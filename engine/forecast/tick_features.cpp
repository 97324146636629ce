#include "engine/forecast/tick_features.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace statestream::engine::forecast {

namespace {

constexpr double kNanosecond = 1e-9;  // seconds; equal timestamps count as one nanosecond
// A fixed share of the level joins the scale so that a flat stream (every difference 0) does
// not divide by zero and a price of 100 moves in steps of about 0.1 before its scale is known;
// the 1e-12 keeps a flat stream at 0 finite too.
constexpr double kLevelShareOfScale = 0.001;
constexpr double kScaleFloorSquared = 1e-12;

// The clamps keep one wild tick (a fat-finger price, a sensor glitch) from driving the model
// far outside the inputs it was trained on; the divisors bring each feature to about [-1, 1].
constexpr double kDiffClamp = 8.0, kDiffDivisor = 2.0;
constexpr double kLevelClamp = 30.0, kLevelDivisor = 10.0;
constexpr double kDtClamp = 5.0, kDtDivisor = 2.0;
constexpr double kSeasonClamp = 30.0, kSeasonDivisor = 10.0;

// Layout of save_state(): the scalars, then the ring.
enum Saved : std::size_t {
    kLast, kS2, kMean, kLogDt, kHasLast, kHasDiff, kHasDt,
    kTime0, kTime1, kTime2, kTime3,     // last timestamp, 16 bits per float, low first
    kTicks0, kTicks1, kTicks2, kTicks3,  // tick count, likewise
    kRingNext,
    kScalars,
};
// Floats hold every integer below 2^24 exactly, so 16-bit pieces survive save and restore
// bit for bit, and stay finite, which a bit-cast int64 would not.
constexpr std::uint64_t kPieceBits = 16;
constexpr std::uint64_t kPieceMask = (1ULL << kPieceBits) - 1;

double clamp(double x, double limit) noexcept { return std::clamp(x, -limit, limit); }

double scale_of(float last, float s2) noexcept {
    const double level = kLevelShareOfScale * static_cast<double>(last);
    return std::sqrt(static_cast<double>(s2) + level * level + kScaleFloorSquared);
}

void save_u64(std::uint64_t value, std::span<float> out) noexcept {
    for (std::size_t i = 0; i < 4; ++i) {
        out[i] = static_cast<float>((value >> (kPieceBits * i)) & kPieceMask);
    }
}

bool is_piece(float f) noexcept {
    return f >= 0.0f && f <= static_cast<float>(kPieceMask) && f == std::floor(f);
}

std::uint64_t restore_u64(std::span<const float> in) noexcept {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        value |= static_cast<std::uint64_t>(in[i]) << (kPieceBits * i);
    }
    return value;
}

bool is_flag(float f) noexcept { return f == 0.0f || f == 1.0f; }

}  // namespace

TickFeatures::TickFeatures(const models::ForecastSpec& spec)
    : keep_scale_(std::exp(-1.0 / spec.scale_tau)),
      keep_level_(std::exp(-1.0 / spec.level_tau)),
      keep_dt_(std::exp(-1.0 / spec.dt_tau)),
      max_season_(spec.max_season),
      ring_(std::size_t{spec.max_season} + 1, std::numeric_limits<float>::quiet_NaN()) {}

double TickFeatures::scale() const noexcept { return scale_of(last_, s2_); }

std::uint32_t TickFeatures::pushed() const noexcept {
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(ticks_, ring_.size()));
}

float TickFeatures::ago(std::uint32_t k) const noexcept {
    const std::size_t size = ring_.size();
    return ring_[(ring_next_ + size - 1 - k) % size];
}

bool TickFeatures::season_usable(std::uint32_t season) const noexcept {
    return season > 0 && season < pushed() && std::isfinite(ago(season));
}

void TickFeatures::step(std::int64_t time_ns, float value, std::uint32_t season,
                        std::span<float, kTickFeatureCount> x) noexcept {
    // 1. Time step.
    double x2 = 0.0;
    if (ticks_ > 0) {
        // Unsigned: the true difference of two int64 fits in uint64 when time_ns >= the last.
        const std::uint64_t elapsed_ns =
            time_ns > last_time_ns_
                ? static_cast<std::uint64_t>(time_ns) - static_cast<std::uint64_t>(last_time_ns_)
                : 0;
        const double l = std::log(std::max(static_cast<double>(elapsed_ns) * kNanosecond, kNanosecond));
        if (has_dt_) {
            const double ld = static_cast<double>(ld_);
            x2 = clamp(l - ld, kDtClamp) / kDtDivisor;
            ld_ = static_cast<float>(ld + (1.0 - keep_dt_) * (l - ld));
        } else {
            ld_ = static_cast<float>(l);
            has_dt_ = true;
        }
    }

    // 2. Value.
    const bool finite = std::isfinite(value);
    const double sigma = scale();
    double x0 = 0.0;
    double x1 = 0.0;
    if (finite && has_last_) {
        const double v = value;
        const double d = v - static_cast<double>(last_);
        const double m = static_cast<double>(m_);
        x0 = clamp(d / sigma, kDiffClamp) / kDiffDivisor;
        x1 = clamp((v - m) / sigma, kLevelClamp) / kLevelDivisor;
        s2_ = static_cast<float>(has_diff_ ? keep_scale_ * static_cast<double>(s2_) + (1.0 - keep_scale_) * d * d
                                           : d * d);
        has_diff_ = true;
        m_ = static_cast<float>(m + (1.0 - keep_level_) * (v - m));
        last_ = value;
    } else if (finite) {
        m_ = value;
        last_ = value;
        has_last_ = true;
    } else if (has_last_) {
        x1 = clamp((static_cast<double>(last_) - static_cast<double>(m_)) / sigma, kLevelClamp) /
             kLevelDivisor;
    }

    // 3. Ring: forward-filled, so a gap repeats the last value.
    ring_[ring_next_] = has_last_ ? last_ : std::numeric_limits<float>::quiet_NaN();
    ring_next_ = static_cast<std::uint32_t>((ring_next_ + 1) % ring_.size());
    ++ticks_;  // counted here for ago(); step 5 of the doc, which nothing between reads

    // 4. Season.
    double x4 = 0.0;
    double x5 = 0.0;
    if (season_usable(season)) {
        const double moved = static_cast<double>(ago(season - 1)) - static_cast<double>(ago(season));
        x4 = clamp(moved / scale(), kSeasonClamp) / kSeasonDivisor;
        x5 = 1.0;
    }

    // 5. Remember the time.
    last_time_ns_ = time_ns;

    x[0] = static_cast<float>(x0);
    x[1] = static_cast<float>(x1);
    x[2] = static_cast<float>(x2);
    x[3] = finite ? 0.0f : 1.0f;
    x[4] = static_cast<float>(x4);
    x[5] = static_cast<float>(x5);
}

void TickFeatures::anchors(std::uint32_t season, std::span<double> anchors) const noexcept {
    const double last = last_;
    if (!season_usable(season)) {
        std::fill(anchors.begin(), anchors.end(), last);
        return;
    }
    const double base = ago(season);
    for (std::size_t h = 1; h <= anchors.size(); ++h) {
        const auto j = static_cast<std::uint32_t>((h - 1) % season + 1);
        anchors[h - 1] = last + (static_cast<double>(ago(season - j)) - base);
    }
}

std::size_t TickFeatures::state_floats() const noexcept { return kScalars + ring_.size(); }

void TickFeatures::save_state(std::span<float> out) const noexcept {
    out[kLast] = last_;
    out[kS2] = s2_;
    out[kMean] = m_;
    out[kLogDt] = ld_;
    out[kHasLast] = has_last_ ? 1.0f : 0.0f;
    out[kHasDiff] = has_diff_ ? 1.0f : 0.0f;
    out[kHasDt] = has_dt_ ? 1.0f : 0.0f;
    save_u64(static_cast<std::uint64_t>(last_time_ns_), out.subspan(kTime0, 4));
    save_u64(ticks_, out.subspan(kTicks0, 4));
    out[kRingNext] = static_cast<float>(ring_next_);
    std::copy(ring_.begin(), ring_.end(), out.begin() + kScalars);
}

bool TickFeatures::restore_state(std::span<const float> in) noexcept {
    if (in.size() != state_floats()) return false;
    for (std::size_t i = kLast; i <= kLogDt; ++i) {
        if (!std::isfinite(in[i])) return false;
    }
    if (!is_flag(in[kHasLast]) || !is_flag(in[kHasDiff]) || !is_flag(in[kHasDt])) return false;
    for (std::size_t i = kTime0; i <= kTicks3; ++i) {
        if (!is_piece(in[i])) return false;
    }
    if (!is_piece(in[kRingNext]) || in[kRingNext] >= static_cast<float>(ring_.size())) return false;

    last_ = in[kLast];
    s2_ = in[kS2];
    m_ = in[kMean];
    ld_ = in[kLogDt];
    has_last_ = in[kHasLast] != 0.0f;
    has_diff_ = in[kHasDiff] != 0.0f;
    has_dt_ = in[kHasDt] != 0.0f;
    last_time_ns_ = static_cast<std::int64_t>(restore_u64(in.subspan(kTime0, 4)));
    ticks_ = restore_u64(in.subspan(kTicks0, 4));
    ring_next_ = static_cast<std::uint32_t>(in[kRingNext]);
    std::copy(in.begin() + kScalars, in.end(), ring_.begin());
    return true;
}

void TickFeatures::reset() noexcept {
    last_ = s2_ = m_ = ld_ = 0.0f;
    has_last_ = has_diff_ = has_dt_ = false;
    last_time_ns_ = 0;
    ticks_ = 0;
    std::fill(ring_.begin(), ring_.end(), std::numeric_limits<float>::quiet_NaN());
    ring_next_ = 0;
}

}  // namespace statestream::engine::forecast
