// The Mamba-3 state update with AVX2 + FMA, 8 state elements per instruction. SISO (rank 1)
// fuses update and readout in one pass over the state like the Mamba-2 kernel, with one more
// FMA per element for the trapezoidal rule's previous-step term; MIMO updates first, then reads
// out each rank from the state while it is still in L1.

#include <immintrin.h>

#include "models/cpu/mamba3_scan.hpp"
#include "models/cpu/x86/horizontal_sum.hpp"

namespace statestream::models::cpu {

namespace {

constexpr std::size_t kLanes = 8;

void siso_head_step(float* head_state, std::size_t P, std::size_t N, float alpha, float beta,
                    float gamma, const float* x_now, const float* b_now, const float* c_now,
                    const float* x_before, const float* b_before, float* yt) noexcept {
    const std::size_t vector_end = N - N % kLanes;
    const __m256 v_alpha = _mm256_set1_ps(alpha);
    for (std::size_t p = 0; p < P; ++p) {
        float* sp = head_state + p * N;
        const float bx = beta * x_before[p];
        const float gx = gamma * x_now[p];
        const __m256 v_bx = _mm256_set1_ps(bx);
        const __m256 v_gx = _mm256_set1_ps(gx);
        __m256 acc = _mm256_setzero_ps();
        std::size_t n = 0;
        for (; n < vector_end; n += kLanes) {
            __m256 input = _mm256_mul_ps(v_gx, _mm256_loadu_ps(b_now + n));
            input = _mm256_fmadd_ps(v_bx, _mm256_loadu_ps(b_before + n), input);
            const __m256 s = _mm256_fmadd_ps(v_alpha, _mm256_loadu_ps(sp + n), input);
            _mm256_storeu_ps(sp + n, s);
            acc = _mm256_fmadd_ps(s, _mm256_loadu_ps(c_now + n), acc);
        }
        float total = horizontal_sum(acc);
        for (; n < N; ++n) {
            sp[n] = alpha * sp[n] + (bx * b_before[n] + gx * b_now[n]);
            total += sp[n] * c_now[n];
        }
        yt[p] = total;
    }
}

void mimo_head_step(float* head_state, std::size_t P, std::size_t N, std::size_t R, float alpha,
                    float beta, float gamma, const float* x_now, const float* b_now,
                    const float* c_now, const float* x_before, const float* b_before,
                    float* yt) noexcept {
    const std::size_t vector_end = N - N % kLanes;
    const __m256 v_alpha = _mm256_set1_ps(alpha);
    for (std::size_t p = 0; p < P; ++p) {
        float* sp = head_state + p * N;
        std::size_t n = 0;
        for (; n < vector_end; n += kLanes) {
            __m256 s = _mm256_mul_ps(v_alpha, _mm256_loadu_ps(sp + n));
            for (std::size_t r = 0; r < R; ++r) {
                s = _mm256_fmadd_ps(_mm256_set1_ps(beta * x_before[r * P + p]),
                                    _mm256_loadu_ps(b_before + r * N + n), s);
                s = _mm256_fmadd_ps(_mm256_set1_ps(gamma * x_now[r * P + p]),
                                    _mm256_loadu_ps(b_now + r * N + n), s);
            }
            _mm256_storeu_ps(sp + n, s);
        }
        for (; n < N; ++n) {
            float input = 0.0f;
            for (std::size_t r = 0; r < R; ++r) {
                input += beta * x_before[r * P + p] * b_before[r * N + n] +
                         gamma * x_now[r * P + p] * b_now[r * N + n];
            }
            sp[n] = alpha * sp[n] + input;
        }
        for (std::size_t r = 0; r < R; ++r) {
            const float* c = c_now + r * N;
            __m256 acc = _mm256_setzero_ps();
            std::size_t m = 0;
            for (; m < vector_end; m += kLanes) {
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(sp + m), _mm256_loadu_ps(c + m), acc);
            }
            float total = horizontal_sum(acc);
            for (; m < N; ++m) total += sp[m] * c[m];
            yt[r * P + p] = total;
        }
    }
}

}  // namespace

void mamba3_scan_avx2(const Mamba3ScanShape& s, const float* coef, const float* xr,
                      const float* B, const float* C, const float* prev_xr, const float* prev_b,
                      float* state, float* y, std::size_t rows) noexcept {
    const std::size_t R = s.ranks, P = s.head_dim, N = s.d_state, H = s.n_heads;
    for (std::size_t h = 0; h < H; ++h) {
        float* head_state = state + h * P * N;
        for (std::size_t t = 0; t < rows; ++t) {
            const float* k = coef + (t * H + h) * 3;
            const float* x_now = xr + (t * H + h) * R * P;
            const float* b_now = B + (t * H + h) * R * N;
            const float* c_now = C + (t * H + h) * R * N;
            const float* x_before = t == 0 ? prev_xr + h * R * P : xr + ((t - 1) * H + h) * R * P;
            const float* b_before = t == 0 ? prev_b + h * R * N : B + ((t - 1) * H + h) * R * N;
            float* yt = y + (t * H + h) * R * P;
            if (R == 1) {
                siso_head_step(head_state, P, N, k[0], k[1], k[2], x_now, b_now, c_now, x_before,
                               b_before, yt);
            } else {
                mimo_head_step(head_state, P, N, R, k[0], k[1], k[2], x_now, b_now, c_now,
                               x_before, b_before, yt);
            }
        }
    }
}

}  // namespace statestream::models::cpu
