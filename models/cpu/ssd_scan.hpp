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
void ssd_scan(const SsdScanShape& shape, const float* xbc, const float* dt, const float* A,
              const float* D, float* state, float* y, std::size_t rows) noexcept;

}  // namespace statestream::models::cpu
