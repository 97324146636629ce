#pragma once
// The Mamba-1 (S6) state update and readout over one stream's chunk of steps, channel by
// channel: one channel's state {d_state} stays in registers across every step of the chunk.
// Its decay is per state element, so it pays one exp_decay (fast_exp.hpp, no libm) per element.
// The reference is selective_scan_naive in models/train/mamba1_block.py.
//
//   state[i, n] = exp(dt[i] A[i, n]) state[i, n] + dt[i] x[i] B[n]
//   y[i] = state[i] . C + D[i] x[i]

#include <cstddef>

namespace statestream::models::cpu {

struct SelectiveScanShape {
    std::size_t d_inner;
    std::size_t d_state;
    std::size_t bc_stride;  // floats between consecutive steps' B (C follows B by d_state)
};

// x, dt {rows, d_inner}; bc points at step 0's B; A {d_inner, d_state}; D {d_inner};
// state {d_inner, d_state}, updated in place; y {rows, d_inner}. Thread: any. Never allocates.
using SelectiveScanKernel = void (*)(const SelectiveScanShape&, const float* x, const float* dt,
                                     const float* bc, const float* A, const float* D,
                                     float* state, float* y, std::size_t rows) noexcept;

void selective_scan_scalar(const SelectiveScanShape& shape, const float* x, const float* dt,
                           const float* bc, const float* A, const float* D, float* state,
                           float* y, std::size_t rows) noexcept;
// AVX2 + FMA (x86/selective_scan_avx2.cpp); call only where cpu_has_avx2_fma().
void selective_scan_avx2(const SelectiveScanShape& shape, const float* x, const float* dt,
                         const float* bc, const float* A, const float* D, float* state, float* y,
                         std::size_t rows) noexcept;
// The textbook loop with libm exp per element, kept for the benchmark's comparison only.
void selective_scan_libm(const SelectiveScanShape& shape, const float* x, const float* dt,
                         const float* bc, const float* A, const float* D, float* state, float* y,
                         std::size_t rows) noexcept;

// Thread: setup. Once per model load; STATESTREAM_SCALAR=1 forces the portable kernel.
[[nodiscard]] SelectiveScanKernel select_selective_scan_kernel() noexcept;

}  // namespace statestream::models::cpu
