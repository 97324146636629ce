#pragma once
// Log compression of band energies (docs/features.md): ln(E + 1e-6). The floor keeps silence
// finite (-13.8) without a kink, and matches models/train/features.py.

#include <cmath>
#include <cstddef>
#include <span>

namespace statestream::dsp {

inline constexpr float kLogEnergyFloor = 1e-6f;

// Thread: real-time. out.size() == energies.size(); may alias.
inline void log_compress(std::span<const float> energies, std::span<float> out) noexcept {
    for (std::size_t i = 0; i < energies.size(); ++i) out[i] = std::log(energies[i] + kLogEnergyFloor);
}

}  // namespace statestream::dsp
