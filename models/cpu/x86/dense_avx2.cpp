// Projections with AVX2 + FMA. Four rows share each 8-float load of a weight row, so a chunk
// reads its weights from memory once per block of rows rather than once per step; four
// independent accumulators keep the FMA units busy. Compiled with -mavx2 -mfma in this file
// only; chosen at load on CPUs that have both.
//
// A row's result must not depend on how many rows share the call (one stream's step, or the
// stream inside a batched step: engine/forecast compares them bit for bit). So every path sums
// in the same order, and the scalar tails use std::fma explicitly: written as `s += w * x`,
// GCC contracts some loops into FMAs and vectorises others without, and the bits differ.

#include <immintrin.h>

#include <cmath>

#include "models/cpu/x86/horizontal_sum.hpp"
#include "models/cpu/dense.hpp"

namespace statestream::models::cpu {

namespace {

constexpr std::size_t kLanes = 8;
constexpr std::size_t kRowsTogether = 4;
// Rows whose inputs stay in L1 while all weight rows stream past them: 16 rows of a
// 768-float input are 48 KiB, about one L1d plus the weight row in flight.
constexpr std::size_t kRowBlock = 16;

// One input row (one stream's step): four outputs per pass share each load of the input, and
// their four sums are reduced together, so the horizontal adds cost a quarter of one per output.
void single_row(const float* weight, std::span<const float> bias, std::size_t in_dim,
                std::size_t out_dim, const float* x, float* y) noexcept {
    const std::size_t vector_end = in_dim - in_dim % kLanes;
    std::size_t o = 0;
    for (; o + 4 <= out_dim; o += 4) {
        const float* w0 = weight + o * in_dim;
        const float* w1 = w0 + in_dim;
        const float* w2 = w1 + in_dim;
        const float* w3 = w2 + in_dim;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        for (std::size_t i = 0; i < vector_end; i += kLanes) {
            const __m256 xv = _mm256_loadu_ps(x + i);
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i), xv, a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i), xv, a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i), xv, a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i), xv, a3);
        }
        // The four sums reduced together, in horizontal_sum()'s order exactly (halves, then
        // lanes 0+2 and 1+3, then those two), so a stream's step gives the same bits alone as in
        // a group of four rows of a batched step; the batched forecaster relies on it.
        __m128 p0 = _mm_add_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
        __m128 p1 = _mm_add_ps(_mm256_castps256_ps128(a1), _mm256_extractf128_ps(a1, 1));
        __m128 p2 = _mm_add_ps(_mm256_castps256_ps128(a2), _mm256_extractf128_ps(a2, 1));
        __m128 p3 = _mm_add_ps(_mm256_castps256_ps128(a3), _mm256_extractf128_ps(a3, 1));
        _MM_TRANSPOSE4_PS(p0, p1, p2, p3);  // p0 = lane 0 of each sum, p1 = lane 1, ...
        alignas(16) float sums[4];
        _mm_store_ps(sums, _mm_add_ps(_mm_add_ps(p0, p2), _mm_add_ps(p1, p3)));
        for (std::size_t i = vector_end; i < in_dim; ++i) {
            sums[0] = std::fma(w0[i], x[i], sums[0]);
            sums[1] = std::fma(w1[i], x[i], sums[1]);
            sums[2] = std::fma(w2[i], x[i], sums[2]);
            sums[3] = std::fma(w3[i], x[i], sums[3]);
        }
        for (std::size_t k = 0; k < 4; ++k) y[o + k] = sums[k] + (bias.empty() ? 0.0f : bias[o + k]);
    }
    for (; o < out_dim; ++o) {
        const float* w = weight + o * in_dim;
        __m256 a = _mm256_setzero_ps();
        for (std::size_t i = 0; i < vector_end; i += kLanes) {
            a = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i), a);
        }
        float s = horizontal_sum(a);
        for (std::size_t i = vector_end; i < in_dim; ++i) s = std::fma(w[i], x[i], s);
        y[o] = s + (bias.empty() ? 0.0f : bias[o]);
    }
}

}  // namespace

void linear_avx2(std::span<const float> weight, std::span<const float> bias, std::size_t in_dim,
                 std::size_t out_dim, const float* x, std::size_t x_stride, float* y,
                 std::size_t y_stride, std::size_t rows) noexcept {
    const std::size_t vector_end = in_dim - in_dim % kLanes;
    for (std::size_t row0 = 0; row0 < rows; row0 += kRowBlock) {
        const std::size_t row_end = row0 + kRowBlock < rows ? row0 + kRowBlock : rows;
        // Rows past the last group of four (all of them for a single stream's step) go
        // through single_row below.
        const std::size_t tail_start = row0 + (row_end - row0) / kRowsTogether * kRowsTogether;
        for (std::size_t o = 0; o < out_dim && row0 < tail_start; ++o) {
            const float* w = weight.data() + o * in_dim;
            const float b = bias.empty() ? 0.0f : bias[o];
            for (std::size_t t = row0; t + kRowsTogether <= tail_start; t += kRowsTogether) {
                const float* x0 = x + t * x_stride;
                const float* x1 = x0 + x_stride;
                const float* x2 = x1 + x_stride;
                const float* x3 = x2 + x_stride;
                __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
                __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
                for (std::size_t i = 0; i < vector_end; i += kLanes) {
                    const __m256 wv = _mm256_loadu_ps(w + i);
                    a0 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x0 + i), a0);
                    a1 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x1 + i), a1);
                    a2 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x2 + i), a2);
                    a3 = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x3 + i), a3);
                }
                float s0 = horizontal_sum(a0), s1 = horizontal_sum(a1);
                float s2 = horizontal_sum(a2), s3 = horizontal_sum(a3);
                for (std::size_t i = vector_end; i < in_dim; ++i) {
                    s0 = std::fma(w[i], x0[i], s0);
                    s1 = std::fma(w[i], x1[i], s1);
                    s2 = std::fma(w[i], x2[i], s2);
                    s3 = std::fma(w[i], x3[i], s3);
                }
                y[t * y_stride + o] = s0 + b;
                y[(t + 1) * y_stride + o] = s1 + b;
                y[(t + 2) * y_stride + o] = s2 + b;
                y[(t + 3) * y_stride + o] = s3 + b;
            }
        }
        for (std::size_t t = tail_start; t < row_end; ++t) {
            single_row(weight.data(), bias, in_dim, out_dim, x + t * x_stride, y + t * y_stride);
        }
    }
}

}  // namespace statestream::models::cpu
