#pragma once
// A structure-aware mode for the snapshot fuzz targets. Mutating raw bytes rarely gets past a
// snapshot's container, fingerprint and names to the values behind them, so an input that starts
// with kFloatPatchMagic is read instead as patches to the floats of a valid state, which the
// target then encodes with the project's writer and feeds to the reader as usual. Each patch is
// 4 bytes: a little-endian u16 index (mod the float count), a kind and an argument; the kinds
// give whole numbers (the counts, flags and positions states hold), values just outside their
// ranges, non-finite values and scaled copies of the value there.

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>

namespace statestream::fuzz {

inline constexpr std::array<std::uint8_t, 4> kFloatPatchMagic = {'F', 'Z', 'P', 'T'};
inline constexpr std::size_t kMaxFloatPatches = 64;

// Whether `data` is in the patch mode; `patches` is then the part after the magic.
inline bool float_patch_input(std::span<const std::uint8_t> data,
                              std::span<const std::uint8_t>& patches) noexcept {
    if (data.size() < kFloatPatchMagic.size() ||
        std::memcmp(data.data(), kFloatPatchMagic.data(), kFloatPatchMagic.size()) != 0) {
        return false;
    }
    patches = data.subspan(kFloatPatchMagic.size());
    return true;
}

// Applies up to kMaxFloatPatches patches to `floats` (non-empty), in order.
inline void apply_float_patches(std::span<const std::uint8_t> patches, std::span<float> floats) noexcept {
    constexpr float kSpecial[] = {-1.0f,   -0.5f,   0.5f,     1e30f,   -1e30f,
                                  65536.0f, 16777216.0f, 4294967296.0f,
                                  std::numeric_limits<float>::quiet_NaN(),
                                  std::numeric_limits<float>::infinity()};
    for (std::size_t n = 0; n < kMaxFloatPatches && patches.size() >= 4; ++n, patches = patches.subspan(4)) {
        const std::size_t index = (patches[0] | std::size_t{patches[1]} << 8) % floats.size();
        const std::uint8_t arg = patches[3];
        switch (patches[2] % 4) {
            case 0: floats[index] = static_cast<float>(arg); break;
            case 1: floats[index] = static_cast<float>(arg) * 256.0f; break;
            case 2: floats[index] = kSpecial[arg % std::size(kSpecial)]; break;
            default: floats[index] *= (static_cast<float>(arg) - 128.0f) / 16.0f; break;
        }
    }
}

}  // namespace statestream::fuzz
