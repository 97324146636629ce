#pragma once
// exp_decay (../fast_exp.hpp) on eight lanes. Include only from files compiled with -mavx2 -mfma.

#include <immintrin.h>

#include "models/cpu/fast_exp.hpp"

namespace statestream::models::cpu {

[[nodiscard]] inline __m256 exp_decay8(__m256 x) noexcept {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(kExpLowest)), _mm256_setzero_ps());
    // Round to nearest by adding 1.5 * 2^23 + 127: the sum's low mantissa bits are then
    // n + 127, the biased exponent of 2^n, with no round or convert instruction.
    const __m256 shifted = _mm256_fmadd_ps(x, _mm256_set1_ps(kLog2e), _mm256_set1_ps(12582912.0f + 127.0f));
    const __m256 n = _mm256_sub_ps(shifted, _mm256_set1_ps(12582912.0f + 127.0f));
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2High), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Low), r);
    __m256 p = _mm256_set1_ps(1.0f / 720.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i bits = _mm256_slli_epi32(_mm256_castps_si256(shifted), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

}  // namespace statestream::models::cpu
