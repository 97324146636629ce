#pragma once
// The quantile head and its online adaptation, per stream (docs/forecast.md, "Quantile head"
// and "Online adaptation"). The model's raw outputs o {3H} become, at horizon h,
//
//   z50 = o0,  z10 = o0 - softplus(o1),  z90 = o0 + softplus(o2)       (they never cross)
//   z50' = z50 + off[h],  z10' = z50' - exp(g[h]) (z50 - z10),  z90' = z50' + exp(g[h]) (z90 - z50)
//   q_k(h) = b_h + sigma' z_k'(h)
//
// and each stream learns off[h] (a median offset, in scales) and g[h] (an interval log-width)
// from how its forecasts made h ticks ago fared against the value that has now arrived. The
// state is fixed-size: off {H}, g {H} and a ring of the last H forecasts {H, 3H + 2}.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "models/model_description.hpp"

namespace statestream::engine::forecast {

// Thread: real-time. The head at one horizon without the anchor and scale: z10, z50, z90 from
// the three raw outputs o = {o0, o1, o2}, adapted by `offset` and `log_width` (0, 0: none).
// z10 <= z50 <= z90 for every finite input.
struct QuantileZ {
    double z10, z50, z90;
};
[[nodiscard]] QuantileZ quantile_head(std::span<const float, 3> raw, double offset,
                                      double log_width) noexcept;

class QuantileReadout {
public:
    // Thread: setup. Sizes the state for H = spec.horizon. With adapt false, off and g stay 0
    // (the doc's --no-adapt) whatever adapt() is given.
    QuantileReadout(const models::ForecastSpec& spec, bool adapt);

    [[nodiscard]] std::uint32_t horizon() const noexcept { return horizon_; }

    // Thread: real-time. Called with every tick's value before its features: a finite value
    // scores each forecast made h ticks ago against horizon h and steps off[h] and g[h].
    // A gap scores nothing. Never allocates.
    void adapt(float value) noexcept;

    // Thread: real-time. This tick's forecast: raw {3H} (model outputs), anchors {H} (b_h),
    // `scale` sigma'; writes q10, q50, q90 (each the first n <= H horizons the caller wants)
    // and remembers all H of them for adapt().
    void forecast(std::span<const float> raw, std::span<const double> anchors, double scale,
                  std::span<float> q10, std::span<float> q50, std::span<float> q90) noexcept;
    // Thread: real-time. A tick with no forecast (the stream has no value yet): remembered as
    // none, so that ages keep counting in ticks.
    void skip() noexcept;

    [[nodiscard]] std::span<const float> offsets() const noexcept { return off_; }
    [[nodiscard]] std::span<const float> log_widths() const noexcept { return g_; }

    // Save and restore: off, g, the ring and its position. restore_state() returns false,
    // changing nothing, when `in` cannot be a state (sizes, non-finite values, flags); without
    // adaptation it restores off = g = 0 whatever was saved.
    [[nodiscard]] std::size_t state_floats() const noexcept;
    void save_state(std::span<float> out) const noexcept;
    [[nodiscard]] bool restore_state(std::span<const float> in) noexcept;
    void reset() noexcept;

private:
    // One remembered forecast: [made (0/1), sigma', q10 {H}, q50 {H}, q90 {H}].
    [[nodiscard]] std::size_t entry_floats() const noexcept { return 2 + 3 * std::size_t{horizon_}; }
    [[nodiscard]] float* entry(std::size_t slot) noexcept { return ring_.data() + slot * entry_floats(); }

    std::uint32_t horizon_;
    bool adapt_;
    double offset_rate_;    // eta_b
    double width_rate_;     // eta_g
    double miss_target_;    // 1 - coverage: the share of values meant to fall outside [q10, q90]
    std::vector<float> off_;   // {H}, in scales; kept in float, updated in double
    std::vector<float> g_;     // {H}, natural log of the width factor
    std::vector<float> ring_;  // {H, entry_floats()}: the forecasts of the last H ticks
    std::uint32_t ring_next_ = 0;  // where this tick's forecast goes; the one h ago is next - h
};

}  // namespace statestream::engine::forecast
