#pragma once
// The Mamba-3 state update and readout over one stream's chunk of steps, head by head, and the
// angle bookkeeping that feeds it. The reference is models/train/mamba3_scan.py.
//
//   state_t = alpha_t state_{t-1} + beta_t sum_r xr_{t-1,r} (outer) B_{t-1,r}
//                                 + gamma_t sum_r xr_{t,r} (outer) B_{t,r}
//   y_{t,r} = state_t . C_{t,r}
//
// Templates over the float type so that a float64 run of the very same code can measure how far
// float32 drifts over 10^7 steps (tests/models/test_mamba3_proofs.cpp). No exp, sin or cos per
// state element: the decay is one exp per head and step, the rotations N/2 sincos per head.

#include <cmath>
#include <cstddef>

namespace statestream::models::cpu {

struct Mamba3ScanShape {
    std::size_t n_heads;
    std::size_t head_dim;
    std::size_t d_state;
    std::size_t ranks;   // 1 for SISO
};

// Accumulated angles are kept as an unevaluated sum angle + residual of two Reals, with angle
// in [0, 2 pi). A float angle that only grows loses a bit of precision every time it doubles:
// after 10^6 steps of 0.05 rad it is resolved to 0.004 rad, and the data-dependent rotations turn
// into noise. Kept in range it is resolved to 5e-7 rad, but rounding each step's sum still adds
// up like a random walk (about 3e-5 rad after 4096 steps); the residual carries what each sum
// rounded away (compensated summation), so the pair tracks the exact sum to about 1e-12 rad.
// Only relative angles reach the outputs, but the state (and a snapshot of it) stays faithful.
template <typename Real>
struct WiderOf;
template <>
struct WiderOf<float> {
    using type = double;
};
template <>
struct WiderOf<double> {
    using type = long double;
};

template <typename Real>
inline void advance_angle(Real& angle, Real& residual, Real increment) noexcept {
    using Wide = typename WiderOf<Real>::type;
    constexpr Real kTwoPi = static_cast<Real>(6.283185307179586476925286766559L);
    const Real b = increment + residual;
    const Real sum = angle + b;
    const Real b_part = sum - angle;
    const Real error = (angle - (sum - b_part)) + (b - b_part);  // exact: angle + b = sum + error
    if (sum >= Real(0) && sum < kTwoPi) {
        angle = sum;
        residual = error;
        return;
    }
    // Out of range (about once per 2 pi of rotation): reduce the pair in wider arithmetic.
    constexpr Wide kWideTwoPi = static_cast<Wide>(6.283185307179586476925286766559L);
    Wide exact = static_cast<Wide>(sum) + static_cast<Wide>(error);
    exact -= kWideTwoPi * std::floor(exact / kWideTwoPi);
    angle = static_cast<Real>(exact);
    if (angle >= kTwoPi) angle = Real(0);  // exact just below 2 pi rounded up to it
    residual = static_cast<Real>(exact - static_cast<Wide>(angle));
}

// angle[k] += dt * theta[k] for k < n_angles, as above.
template <typename Real>
inline void advance_angles(Real* angle, Real* residual, const Real* theta, Real dt,
                           std::size_t n_angles) noexcept {
    for (std::size_t k = 0; k < n_angles; ++k) advance_angle(angle[k], residual[k], dt * theta[k]);
}

// v (d_state channels) written into out rotated pair by pair: (2k, 2k+1) by angle[k] +
// residual[k], the real form of multiplying complex state channels by exp(i angle). v and out
// must not alias.
template <typename Real>
inline void rotate_pairs(const Real* v, const Real* angle, const Real* residual,
                         std::size_t n_angles, Real* out) noexcept {
    for (std::size_t k = 0; k < n_angles; ++k) {
        const Real c = std::cos(angle[k] + residual[k]);
        const Real s = std::sin(angle[k] + residual[k]);
        const Real even = v[2 * k];
        const Real odd = v[2 * k + 1];
        out[2 * k] = even * c - odd * s;
        out[2 * k + 1] = even * s + odd * c;
    }
}

// coef {rows, n_heads, 3}: alpha, beta, gamma per step and head.
// xr {rows, n_heads, ranks, head_dim}; B, C {rows, n_heads, ranks, d_state} as used (rotated).
// prev_xr {n_heads, ranks, head_dim} and prev_b {n_heads, ranks, d_state}: the step before row 0.
// state {n_heads, head_dim, d_state}, updated in place; y {rows, n_heads, ranks, head_dim}.
// Thread: any. Never allocates.
template <typename Real>
void mamba3_scan_reference(const Mamba3ScanShape& s, const Real* coef, const Real* xr,
                           const Real* B, const Real* C, const Real* prev_xr, const Real* prev_b,
                           Real* state, Real* y, std::size_t rows) noexcept {
    const std::size_t R = s.ranks, P = s.head_dim, N = s.d_state, H = s.n_heads;
    for (std::size_t h = 0; h < H; ++h) {
        Real* head_state = state + h * P * N;
        for (std::size_t t = 0; t < rows; ++t) {
            const Real alpha = coef[(t * H + h) * 3];
            const Real beta = coef[(t * H + h) * 3 + 1];
            const Real gamma = coef[(t * H + h) * 3 + 2];
            const Real* x_now = xr + (t * H + h) * R * P;
            const Real* b_now = B + (t * H + h) * R * N;
            const Real* c_now = C + (t * H + h) * R * N;
            const Real* x_before = t == 0 ? prev_xr + h * R * P : xr + ((t - 1) * H + h) * R * P;
            const Real* b_before = t == 0 ? prev_b + h * R * N : B + ((t - 1) * H + h) * R * N;
            Real* yt = y + (t * H + h) * R * P;
            for (std::size_t p = 0; p < P; ++p) {
                Real* sp = head_state + p * N;
                for (std::size_t n = 0; n < N; ++n) {
                    Real input = 0;
                    for (std::size_t r = 0; r < R; ++r) {
                        input += beta * x_before[r * P + p] * b_before[r * N + n] +
                                 gamma * x_now[r * P + p] * b_now[r * N + n];
                    }
                    sp[n] = alpha * sp[n] + input;
                }
                for (std::size_t r = 0; r < R; ++r) {
                    Real acc = 0;
                    for (std::size_t n = 0; n < N; ++n) acc += sp[n] * c_now[r * N + n];
                    yt[r * P + p] = acc;
                }
            }
        }
    }
}

using Mamba3ScanKernel = void (*)(const Mamba3ScanShape&, const float*, const float*,
                                  const float*, const float*, const float*, const float*, float*,
                                  float*, std::size_t) noexcept;

// Portable float32 kernel (the template above).
void mamba3_scan_scalar(const Mamba3ScanShape& shape, const float* coef, const float* xr,
                        const float* B, const float* C, const float* prev_xr,
                        const float* prev_b, float* state, float* y, std::size_t rows) noexcept;
// AVX2 + FMA (x86/mamba3_scan_avx2.cpp); call only where cpu_has_avx2_fma().
void mamba3_scan_avx2(const Mamba3ScanShape& shape, const float* coef, const float* xr,
                      const float* B, const float* C, const float* prev_xr, const float* prev_b,
                      float* state, float* y, std::size_t rows) noexcept;

// Thread: setup. As select_ssd_scan_kernel(): once per model load; STATESTREAM_SCALAR=1 forces
// the portable kernel.
[[nodiscard]] Mamba3ScanKernel select_mamba3_scan_kernel() noexcept;

}  // namespace statestream::models::cpu
