#pragma once
// The quantile head and its online adaptation, per stream (docs/forecast.md, "Quantile head"
// and "Online adaptation"). The model's raw outputs o {3H} become, at horizon h,
//
//   z50 = o0,  z10 = o0 - softplus(o1),  z90 = o0 + softplus(o2)       (they never cross)
//   z50' = beta z50 + off[h],  z10' = z50' - exp(g[h]) (z50 - z10),  z90' = z50' + exp(g[h]) (z90 - z50)
//   q_k(h) = b_h + sigma' z_k'(h)
//
// and each stream learns, from how its forecasts made h ticks ago fared against the value that
// has now arrived: g[h] (an interval log-width, toward the target coverage); off[h] (the mean
// residual of the median, in scales, shrunk by its own noise); and, for pullback_ticks ticks
// after a shift (a 1-step miss beyond adapt_shift_sigmas), beta: how much of the model's
// predicted move the values bear out. A 1-step miss beyond adapt_break_sigmas forgets the
// forecasts made before it. The state is fixed-size: g, mu, s {H} each, three pull-back
// scalars, and a ring of the last H forecasts {H, 4 + 3H}.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "models/model_description.hpp"

namespace statestream::engine::forecast {

// Thread: real-time. The head at one horizon without the anchor and scale: z10, z50, z90 from
// the three raw outputs o = {o0, o1, o2}, adapted by `pullback` (beta), `offset` and
// `log_width` (1, 0, 0: none). z10 <= z50 <= z90 for every finite input.
struct QuantileZ {
    double z10, z50, z90;
};
[[nodiscard]] QuantileZ quantile_head(std::span<const float, 3> raw, double pullback, double offset,
                                      double log_width) noexcept;

class QuantileReadout {
public:
    // Thread: setup. Sizes the state for H = spec.horizon. With adapt false, the head is plain
    // (beta = 1, off = g = 0: the doc's --no-adapt) whatever adapt() is given.
    QuantileReadout(const models::ForecastSpec& spec, bool adapt);

    [[nodiscard]] std::uint32_t horizon() const noexcept { return horizon_; }

    // Thread: real-time. Called with every tick's value (NaN for a gap) before its features:
    // the forecast made 1 tick ago decides whether this tick is a shift or a break, then a
    // finite value scores each forecast made h ticks ago against horizon h. Never allocates.
    void adapt(float value) noexcept;

    // Thread: real-time. This tick's forecast: raw {3H} (model outputs), anchors {H} (b_h),
    // `scale` sigma', `season_usable` (x5: the anchors carry last season's movement, and the
    // pull-back is not applied); writes q10, q50, q90 (each the first n <= H horizons the
    // caller wants) and remembers all H of them for adapt().
    void forecast(std::span<const float> raw, std::span<const double> anchors, double scale,
                  bool season_usable, std::span<float> q10, std::span<float> q50,
                  std::span<float> q90) noexcept;
    // Thread: real-time. A tick with no forecast (the stream has no value yet): remembered as
    // none, so that ages keep counting in ticks.
    void skip() noexcept;

    // What the next forecast would apply: off[h - 1] in scales (h = 1..H), beta (1 outside the
    // pullback_ticks ticks from a shift on, and without adaptation), g[h - 1].
    [[nodiscard]] double offset(std::size_t index) const noexcept;
    [[nodiscard]] double pullback() const noexcept;
    [[nodiscard]] std::span<const float> log_widths() const noexcept { return g_; }

    // Save and restore: g, mu, s, the pull-back sums and count, the ring and its position.
    // restore_state() returns false, changing nothing, when `in` cannot be a state (sizes,
    // non-finite values, values out of their ranges, flags); without adaptation it restores
    // the plain head whatever was saved.
    [[nodiscard]] std::size_t state_floats() const noexcept;
    void save_state(std::span<float> out) const noexcept;
    [[nodiscard]] bool restore_state(std::span<const float> in) noexcept;
    void reset() noexcept;

private:
    // One remembered forecast: [made (0/1), sigma', b_1, the model's z50 at h = 1,
    // q10 {H}, median before the offset {H}, q90 {H}].
    [[nodiscard]] std::size_t entry_floats() const noexcept { return 4 + 3 * std::size_t{horizon_}; }
    [[nodiscard]] float* entry(std::size_t slot) noexcept { return ring_.data() + slot * entry_floats(); }
    [[nodiscard]] const float* entry(std::size_t slot) const noexcept {
        return ring_.data() + slot * entry_floats();
    }
    void forget_forecasts() noexcept;

    std::uint32_t horizon_;
    bool adapt_;
    double offset_rate_;      // rho: EW rate of mu and s, and the weight of their noise in off
    double width_rate_;       // eta_g
    double miss_target_;      // 1 - coverage: the share of values meant to fall outside [q10, q90]
    double break_sigmas_;     // a 1-step miss beyond this forgets the remembered forecasts
    double shift_sigmas_;     // a 1-step miss beyond this starts a pull-back estimate
    std::uint32_t pullback_ticks_;  // forecasts from a shift on that use beta
    double pullback_prior_;   // w0: weight of beta = 1 in the estimate
    std::vector<float> g_;    // {H}, natural log of the width factor
    std::vector<float> mu_;   // {H}, EW mean of the median's residual, in scales, within +-3
    std::vector<float> s_;    // {H}, EW mean of its square, in [0, 9]
    float pull_zz_ = 0.0f;    // sum over the ticks since the shift of zeta^2
    float pull_zu_ = 0.0f;    // ... of zeta u (u: the value's move from b_1, in scales)
    std::uint32_t since_shift_ = 0;  // ticks since the last shift, saturating at pullback_ticks
    std::vector<float> ring_;  // {H, entry_floats()}: the forecasts of the last H ticks
    std::uint32_t ring_next_ = 0;  // where this tick's forecast goes; the one h ago is next - h
};

}  // namespace statestream::engine::forecast
