#pragma once
// Noise whose samples are never zero, so silence inserted by the code under test is told apart
// from the signal and the first nonzero recorded sample marks the arrival; seeded, so a late or
// early copy would not match by chance.

#include <cstdint>
#include <random>
#include <vector>

namespace statestream::test {

inline std::vector<float> seeded_nonzero_noise(std::size_t frames, std::uint32_t seed) {
    std::mt19937 generator(seed);
    std::uniform_real_distribution<float> magnitude(0.05f, 0.95f);
    std::bernoulli_distribution negative(0.5);
    std::vector<float> samples(frames);
    for (auto& sample : samples) {
        sample = negative(generator) ? -magnitude(generator) : magnitude(generator);
    }
    return samples;
}

}  // namespace statestream::test
