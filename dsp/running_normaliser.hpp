#pragma once
// Exponentially weighted mean and variance per feature, for features and for ticks whose time
// steps vary (docs/features.md, "Running normaliser"). A NaN or infinite input is a gap: it
// leaves the moments untouched, comes out as 0 and is counted; the elapsed time keeps growing
// across it, so the first value after a gap weighs more.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace statestream::dsp {

struct RunningNormaliserConfig {
    std::size_t features = 1;
    double time_constant = 100.0;  // tau, in the unit of dt (frames, or seconds for ticks)
    double variance_floor = 1e-4;  // eps under the square root: a flat feature maps to 0, not inf
};

class RunningNormaliser {
public:
    // Thread: setup. Throws std::invalid_argument unless tau > 0, eps > 0 and features >= 1.
    explicit RunningNormaliser(const RunningNormaliserConfig& config);

    [[nodiscard]] std::size_t features() const noexcept { return config_.features; }
    // Gaps (non-finite inputs) seen since construction or reset(); not part of the state.
    [[nodiscard]] std::uint64_t gaps() const noexcept { return gaps_; }

    // Thread: real-time. x.size() == y.size() == features(); dt >= 0 is the time since the
    // previous call (1 per frame for features). May alias.
    void process(std::span<const float> x, double dt, std::span<float> y) noexcept;

    // Per feature: mean, variance, time since its last finite value, and whether it has one.
    [[nodiscard]] std::size_t state_floats() const noexcept { return 4 * config_.features; }
    void save_state(std::span<float> out) const noexcept;
    void restore_state(std::span<const float> in) noexcept;
    void reset() noexcept;

private:
    RunningNormaliserConfig config_;
    // Kept in float (updated in double) so that a saved state restores bit for bit.
    std::vector<float> mean_;
    std::vector<float> variance_;
    std::vector<float> elapsed_;  // since the last finite value
    std::vector<unsigned char> seen_;
    std::uint64_t gaps_ = 0;
};

}  // namespace statestream::dsp
