#pragma once
// Dense row-wise kernels shared by every block: projections and RMSNorm over a chunk of T rows.
// Thread: real-time or worker. No allocation; sizes are the caller's contract (stated below).

#include <cstddef>
#include <span>

namespace statestream::models::cpu {

// y[t, o] = sum_i W[o, i] * x[t, i] (+ bias[o]) for t < rows.
// W {out_dim, in_dim}; x {rows, in_dim} with row stride x_stride; y {rows, out_dim} with
// stride y_stride; bias empty or {out_dim}. Each weight row is read once per chunk of rows, so
// a longer chunk amortises the weight traffic (the reason forward() beats repeated step()).
void linear_scalar(std::span<const float> weight, std::span<const float> bias, std::size_t in_dim,
                   std::size_t out_dim, const float* x, std::size_t x_stride, float* y,
                   std::size_t y_stride, std::size_t rows) noexcept;
// The same with AVX2 + FMA (x86/dense_avx2.cpp); call only where cpu_has_avx2_fma().
void linear_avx2(std::span<const float> weight, std::span<const float> bias, std::size_t in_dim,
                 std::size_t out_dim, const float* x, std::size_t x_stride, float* y,
                 std::size_t y_stride, std::size_t rows) noexcept;

using LinearKernel = void (*)(std::span<const float>, std::span<const float>, std::size_t,
                              std::size_t, const float*, std::size_t, float*, std::size_t,
                              std::size_t) noexcept;
// Thread: setup. Picked once at load, as select_ssd_scan_kernel() (same CPU test and override).
[[nodiscard]] LinearKernel select_linear_kernel() noexcept;

// y[t, :] = x[t, :] / sqrt(mean over each group of x^2 + eps) * weight, groups of `group`
// consecutive channels (group == dim: one norm over the row). x and y may alias.
void rms_norm_rows(const float* x, float* y, std::span<const float> weight, std::size_t dim,
                   std::size_t group, float eps, std::size_t rows, std::size_t stride) noexcept;

}  // namespace statestream::models::cpu
