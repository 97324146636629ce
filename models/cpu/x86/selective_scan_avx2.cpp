// The Mamba-1 state update with AVX2 + FMA: eight state elements and their eight decays per
// instruction, the decays from exp_decay8 (no libm).

#include <immintrin.h>

#include "models/cpu/selective_scan.hpp"
#include "models/cpu/x86/fast_exp_avx2.hpp"
#include "models/cpu/x86/horizontal_sum.hpp"

namespace statestream::models::cpu {

void selective_scan_avx2(const SelectiveScanShape& s, const float* x, const float* dt,
                         const float* bc, const float* A, const float* D, float* state, float* y,
                         std::size_t rows) noexcept {
    constexpr std::size_t kLanes = 8;
    const std::size_t N = s.d_state;
    const std::size_t vector_end = N - N % kLanes;
    for (std::size_t i = 0; i < s.d_inner; ++i) {
        float* si = state + i * N;
        const float* ai = A + i * N;
        for (std::size_t t = 0; t < rows; ++t) {
            const float dti = dt[t * s.d_inner + i];
            const float xi = x[t * s.d_inner + i];
            const float dx = dti * xi;
            const float* B = bc + t * s.bc_stride;
            const float* C = B + N;
            const __m256 v_dt = _mm256_set1_ps(dti);
            const __m256 v_dx = _mm256_set1_ps(dx);
            __m256 acc = _mm256_setzero_ps();
            std::size_t n = 0;
            for (; n < vector_end; n += kLanes) {
                const __m256 decay = exp_decay8(_mm256_mul_ps(v_dt, _mm256_loadu_ps(ai + n)));
                const __m256 st = _mm256_fmadd_ps(decay, _mm256_loadu_ps(si + n),
                                                  _mm256_mul_ps(v_dx, _mm256_loadu_ps(B + n)));
                _mm256_storeu_ps(si + n, st);
                acc = _mm256_fmadd_ps(st, _mm256_loadu_ps(C + n), acc);
            }
            float total = horizontal_sum(acc);
            for (; n < N; ++n) {
                si[n] = exp_decay(dti * ai[n]) * si[n] + dx * B[n];
                total += si[n] * C[n];
            }
            y[t * s.d_inner + i] = total + D[i] * xi;
        }
    }
}

}  // namespace statestream::models::cpu
