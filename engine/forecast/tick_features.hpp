#pragma once
// The ticks-v1 features of one stream (docs/forecast.md, "Per-stream features"): from each tick
// (t, v) the six model inputs x = [x0 .. x5], and after it the scale sigma' and the anchors b_h
// the quantile head adds its outputs to. The reference is models/train/forecast/.
//
//   x0  the difference to the last value, in scales           clamp(d / sigma, -8, 8) / 2
//   x1  the distance from the level mean, in scales           clamp((v - m) / sigma, -30, 30) / 10
//   x2  the log time step against its mean                    clamp(l - ld, -5, 5) / 2
//   x3  1 for a gap (NaN value), else 0
//   x4  last season's movement at this point, in scales       0 without a usable season
//   x5  1 when the season is usable, else 0
//
// State is fixed-size: a handful of scalars and a ring of the last max_season + 1 values,
// allocated once at construction. Scalars are kept in float and updated in double, as the
// reference does, so a saved state restores bit for bit.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "models/model_description.hpp"

namespace statestream::engine::forecast {

inline constexpr std::size_t kTickFeatureCount = 6;  // ForecastSpec's model input_dim

class TickFeatures {
public:
    // Thread: setup. Sizes the ring from spec.max_season; the time constants become the decay
    // factors a = exp(-1 / tau) once, here.
    explicit TickFeatures(const models::ForecastSpec& spec);

    // Thread: real-time. One tick: updates the state in the doc's order (time step, value,
    // ring, season, count) and writes the model input. `season` is 0 or 2..max_season()
    // (the caller checks it once, at setup); `value` NaN is a gap.
    void step(std::int64_t time_ns, float value, std::uint32_t season,
              std::span<float, kTickFeatureCount> x) noexcept;

    // Thread: real-time. After step(): whether a forecast can be made (a finite value seen).
    [[nodiscard]] bool has_last() const noexcept { return has_last_; }
    [[nodiscard]] float last() const noexcept { return last_; }
    // sigma = scale(last, s2) = sqrt(s2 + (0.001 last)^2 + 1e-12): after step(), sigma'.
    [[nodiscard]] double scale() const noexcept;
    // Whether season P is usable now: P > 0 and ago(P) exists and is finite.
    [[nodiscard]] bool season_usable(std::uint32_t season) const noexcept;
    // b_h for h = 1..anchors.size(): last plus last season's movement from now to h ticks
    // ahead when the season is usable, plain last otherwise.
    void anchors(std::uint32_t season, std::span<double> anchors) const noexcept;

    // Ticks seen, gaps included.
    [[nodiscard]] std::uint64_t ticks() const noexcept { return ticks_; }
    [[nodiscard]] std::uint32_t max_season() const noexcept { return max_season_; }

    // Save and restore: the scalars, the two int64 (each as four exact 16-bit floats), and the
    // ring with NaN kept as is. restore_state() returns false, changing nothing, when `in`
    // cannot be a state (flags not 0/1, ring position out of range): a corrupt snapshot.
    [[nodiscard]] std::size_t state_floats() const noexcept;
    void save_state(std::span<float> out) const noexcept;
    [[nodiscard]] bool restore_state(std::span<const float> in) noexcept;
    void reset() noexcept;

private:
    // The value pushed k ticks ago (k = 0: this tick's); k < pushed() only.
    [[nodiscard]] float ago(std::uint32_t k) const noexcept;
    [[nodiscard]] std::uint32_t pushed() const noexcept;

    double keep_scale_;  // a_s = exp(-1 / scale_tau)
    double keep_level_;  // a_l = exp(-1 / level_tau)
    double keep_dt_;     // a_d = exp(-1 / dt_tau)
    std::uint32_t max_season_;

    float last_ = 0.0f;   // the last finite value
    float s2_ = 0.0f;     // EW mean of squared differences
    float m_ = 0.0f;      // EW level mean
    float ld_ = 0.0f;     // EW mean of ln(time step in seconds)
    bool has_last_ = false;
    bool has_diff_ = false;
    bool has_dt_ = false;
    std::int64_t last_time_ns_ = 0;
    std::uint64_t ticks_ = 0;
    std::vector<float> ring_;  // max_season + 1 values, forward-filled; NaN before the first
    std::uint32_t ring_next_ = 0;  // where the next value goes
};

}  // namespace statestream::engine::forecast
