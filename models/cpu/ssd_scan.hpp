#pragma once
// The Mamba-2 state update and readout over a chunk of steps, head by head: one head's state
// {head_dim, d_state} stays in L1 while every step of the chunk updates it. One exp per head
// per step (the decay), none per state element.

#include <cstddef>

namespace statestream::models::cpu {

struct SsdScanShape {
    std::size_t n_heads;
    std::size_t head_dim;
    std::size_t d_state;
    std::size_t n_groups;
    std::size_t d_inner;   // x occupies xbc[0, d_inner); B follows, then C
    std::size_t row_stride;  // floats between consecutive steps in xbc (conv_dim)
};

// xbc {rows, row_stride}: x {n_heads, head_dim} | B {n_groups, d_state} | C {n_groups, d_state}
// dt {rows, n_heads} (after softplus); A, D {n_heads}; state {n_heads, head_dim, d_state},
// updated in place; y {rows, d_inner} = state . C + D * x. Thread: any. Never allocates.
using SsdScanKernel = void (*)(const SsdScanShape& shape, const float* xbc, const float* dt,
                               const float* A, const float* D, float* state, float* y,
                               std::size_t rows) noexcept;

// Portable C++; the baseline every SIMD kernel is checked and benchmarked against.
void ssd_scan_scalar(const SsdScanShape& shape, const float* xbc, const float* dt, const float* A,
                     const float* D, float* state, float* y, std::size_t rows) noexcept;
// AVX2 + FMA, 8 state elements per instruction (x86/ssd_scan_avx2.cpp). Call only where
// cpu_has_avx2_fma() is true.
void ssd_scan_avx2(const SsdScanShape& shape, const float* xbc, const float* dt, const float* A,
                   const float* D, float* state, float* y, std::size_t rows) noexcept;

[[nodiscard]] bool cpu_has_avx2_fma() noexcept;
// Thread: setup. The fastest kernel this CPU runs; picked once when a model loads, never per
// step. STATESTREAM_SCALAR=1 in the environment forces the portable kernel.
[[nodiscard]] SsdScanKernel select_ssd_scan_kernel() noexcept;
[[nodiscard]] const char* ssd_scan_kernel_name(SsdScanKernel kernel) noexcept;

}  // namespace statestream::models::cpu
