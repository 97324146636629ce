// The Mamba-2 state update with AVX2 + FMA: 8 state elements per instruction, two accumulators
// for the readout so consecutive FMAs do not wait on each other. Compiled with -mavx2 -mfma in
// this file only; select_ssd_scan_kernel() calls it only on CPUs that have both.

#include <immintrin.h>

#include <cmath>

#include "models/cpu/x86/horizontal_sum.hpp"
#include "models/cpu/ssd_scan.hpp"

namespace statestream::models::cpu {

void ssd_scan_avx2(const SsdScanShape& s, const float* xbc, const float* dt, const float* A,
                   const float* D, float* state, float* y, std::size_t rows) noexcept {
    constexpr std::size_t kLanes = 8;
    const std::size_t heads_per_group = s.n_heads / s.n_groups;
    const std::size_t b_offset = s.d_inner;
    const std::size_t c_offset = s.d_inner + s.n_groups * s.d_state;
    const std::size_t vector_end = s.d_state - s.d_state % (2 * kLanes);
    for (std::size_t h = 0; h < s.n_heads; ++h) {
        const std::size_t g = h / heads_per_group;
        float* head_state = state + h * s.head_dim * s.d_state;
        for (std::size_t t = 0; t < rows; ++t) {
            const float* row = xbc + t * s.row_stride;
            const float* x = row + h * s.head_dim;
            const float* B = row + b_offset + g * s.d_state;
            const float* C = row + c_offset + g * s.d_state;
            const float dt_h = dt[t * s.n_heads + h];
            const float decay = std::exp(dt_h * A[h]);
            const __m256 v_decay = _mm256_set1_ps(decay);
            float* yt = y + t * s.d_inner + h * s.head_dim;
            for (std::size_t p = 0; p < s.head_dim; ++p) {
                float* sp = head_state + p * s.d_state;
                const float dtx = dt_h * x[p];
                const __m256 v_dtx = _mm256_set1_ps(dtx);
                __m256 acc0 = _mm256_setzero_ps();
                __m256 acc1 = _mm256_setzero_ps();
                std::size_t n = 0;
                for (; n < vector_end; n += 2 * kLanes) {
                    __m256 s0 = _mm256_loadu_ps(sp + n);
                    __m256 s1 = _mm256_loadu_ps(sp + n + kLanes);
                    s0 = _mm256_fmadd_ps(v_dtx, _mm256_loadu_ps(B + n), _mm256_mul_ps(s0, v_decay));
                    s1 = _mm256_fmadd_ps(v_dtx, _mm256_loadu_ps(B + n + kLanes), _mm256_mul_ps(s1, v_decay));
                    _mm256_storeu_ps(sp + n, s0);
                    _mm256_storeu_ps(sp + n + kLanes, s1);
                    acc0 = _mm256_fmadd_ps(s0, _mm256_loadu_ps(C + n), acc0);
                    acc1 = _mm256_fmadd_ps(s1, _mm256_loadu_ps(C + n + kLanes), acc1);
                }
                float acc = horizontal_sum(_mm256_add_ps(acc0, acc1));
                for (; n < s.d_state; ++n) {
                    sp[n] = sp[n] * decay + dtx * B[n];
                    acc += sp[n] * C[n];
                }
                yt[p] = acc + D[h] * x[p];
            }
        }
    }
}

}  // namespace statestream::models::cpu
