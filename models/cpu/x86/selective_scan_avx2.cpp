// The Mamba-1 state update with AVX2 + FMA: eight state elements and their eight decays per
// instruction, the decays from exp_decay8 (no libm).

#include <immintrin.h>

#include "models/cpu/selective_scan.hpp"
#include "models/cpu/x86/fast_exp_avx2.hpp"
#include "models/cpu/x86/horizontal_sum.hpp"

namespace statestream::models::cpu {

namespace {

constexpr std::size_t kLanes = 8;
// Channels updated together: their exp chains are independent, and four of them in flight hide
// the latency of one polynomial (the loop is latency-bound with one channel at a time).
constexpr std::size_t kChannels = 4;

void one_channel(const SelectiveScanShape& s, std::size_t i, std::size_t t, const float* x,
                 const float* dt, const float* bc, const float* A, const float* D, float* state,
                 float* y) noexcept {
    const std::size_t N = s.d_state;
    const std::size_t vector_end = N - N % kLanes;
    float* si = state + i * N;
    const float* ai = A + i * N;
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

}  // namespace

void selective_scan_avx2(const SelectiveScanShape& s, const float* x, const float* dt,
                         const float* bc, const float* A, const float* D, float* state, float* y,
                         std::size_t rows) noexcept {
    const std::size_t N = s.d_state;
    const std::size_t vector_end = N - N % kLanes;
    std::size_t i0 = 0;
    for (; i0 + kChannels <= s.d_inner; i0 += kChannels) {
        for (std::size_t t = 0; t < rows; ++t) {
            const float* B = bc + t * s.bc_stride;
            const float* C = B + N;
            __m256 v_dt[kChannels], v_dx[kChannels], acc[kChannels];
            for (std::size_t c = 0; c < kChannels; ++c) {
                const float dti = dt[t * s.d_inner + i0 + c];
                v_dt[c] = _mm256_set1_ps(dti);
                v_dx[c] = _mm256_set1_ps(dti * x[t * s.d_inner + i0 + c]);
                acc[c] = _mm256_setzero_ps();
            }
            for (std::size_t n = 0; n < vector_end; n += kLanes) {
                const __m256 b = _mm256_loadu_ps(B + n);
                const __m256 cv = _mm256_loadu_ps(C + n);
                for (std::size_t c = 0; c < kChannels; ++c) {
                    float* si = state + (i0 + c) * N + n;
                    const __m256 decay = exp_decay8(_mm256_mul_ps(v_dt[c], _mm256_loadu_ps(A + (i0 + c) * N + n)));
                    const __m256 st = _mm256_fmadd_ps(decay, _mm256_loadu_ps(si), _mm256_mul_ps(v_dx[c], b));
                    _mm256_storeu_ps(si, st);
                    acc[c] = _mm256_fmadd_ps(st, cv, acc[c]);
                }
            }
            for (std::size_t c = 0; c < kChannels; ++c) {
                const std::size_t i = i0 + c;
                const float dti = dt[t * s.d_inner + i];
                const float xi = x[t * s.d_inner + i];
                float total = horizontal_sum(acc[c]);
                float* si = state + i * N;
                for (std::size_t n = vector_end; n < N; ++n) {
                    si[n] = exp_decay(dti * A[i * N + n]) * si[n] + dti * xi * B[n];
                    total += si[n] * C[n];
                }
                y[t * s.d_inner + i] = total + D[i] * xi;
            }
        }
    }
    for (; i0 < s.d_inner; ++i0) {
        for (std::size_t t = 0; t < rows; ++t) one_channel(s, i0, t, x, dt, bc, A, D, state, y);
    }
}

}  // namespace statestream::models::cpu
