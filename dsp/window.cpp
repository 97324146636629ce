#include "dsp/window.hpp"

#include <cmath>
#include <numbers>

namespace statestream::dsp {

std::string_view window_shape_name(WindowShape shape) noexcept {
    switch (shape) {
        case WindowShape::kHann: return "hann";
        case WindowShape::kSqrtHann: return "sqrt_hann";
        case WindowShape::kVorbis: return "vorbis";
    }
    return "?";
}

std::optional<WindowShape> parse_window_shape(std::string_view name) noexcept {
    for (const auto shape : {WindowShape::kHann, WindowShape::kSqrtHann, WindowShape::kVorbis}) {
        if (name == window_shape_name(shape)) return shape;
    }
    return std::nullopt;
}

std::vector<float> make_window(WindowShape shape, std::size_t n) {
    constexpr double pi = std::numbers::pi;
    std::vector<float> window(n);
    const auto length = static_cast<double>(n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto position = static_cast<double>(i);
        const double hann = 0.5 - 0.5 * std::cos(2.0 * pi * position / length);
        double value = hann;
        if (shape == WindowShape::kSqrtHann) value = std::sqrt(hann);
        if (shape == WindowShape::kVorbis) {
            const double s = std::sin(pi * (position + 0.5) / length);
            value = std::sin(0.5 * pi * s * s);
        }
        window[i] = static_cast<float>(value);
    }
    return window;
}

}  // namespace statestream::dsp
