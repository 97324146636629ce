#pragma once
// Sum of the eight lanes of an AVX register. Include only from files compiled with -mavx2.

#include <immintrin.h>

namespace statestream::models::cpu {

inline float horizontal_sum(__m256 v) noexcept {
    const __m128 pair = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 quad = _mm_add_ps(pair, _mm_movehl_ps(pair, pair));
    return _mm_cvtss_f32(_mm_add_ss(quad, _mm_shuffle_ps(quad, quad, 0x1)));
}

}  // namespace statestream::models::cpu
