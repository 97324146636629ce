#pragma once
// Analysis/synthesis windows, periodic (the DFT-even form that overlap-adds exactly), as
// docs/features.md defines them.

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace statestream::dsp {

enum class WindowShape {
    kHann,      // 0.5 - 0.5 cos(2 pi n / N): the log-mel front-end's analysis window
    kSqrtHann,  // sqrt(hann): power-complementary at hop N/2
    kVorbis,    // sin(pi/2 sin^2(pi (n + 0.5) / N)): power-complementary at hop N/2, less leakage
};

[[nodiscard]] std::string_view window_shape_name(WindowShape shape) noexcept;
// "hann", "sqrt_hann" or "vorbis"; nothing for any other name.
[[nodiscard]] std::optional<WindowShape> parse_window_shape(std::string_view name) noexcept;

// Thread: setup. N samples of the window; computed in double, rounded once.
[[nodiscard]] std::vector<float> make_window(WindowShape shape, std::size_t n);

}  // namespace statestream::dsp
