#include "models/cpu/selective_scan.hpp"

#include <cmath>
#include <cstdlib>

#include "models/cpu/fast_exp.hpp"
#include "models/cpu/ssd_scan.hpp"

namespace statestream::models::cpu {

namespace {

template <float (*Exp)(float)>
void selective_scan_with(const SelectiveScanShape& s, const float* x, const float* dt,
                         const float* bc, const float* A, const float* D, float* state, float* y,
                         std::size_t rows) noexcept {
    const std::size_t N = s.d_state;
    for (std::size_t i = 0; i < s.d_inner; ++i) {
        float* si = state + i * N;
        const float* ai = A + i * N;
        for (std::size_t t = 0; t < rows; ++t) {
            const float dti = dt[t * s.d_inner + i];
            const float xi = x[t * s.d_inner + i];
            const float dx = dti * xi;
            const float* B = bc + t * s.bc_stride;
            const float* C = B + N;
            float acc = 0.0f;
            for (std::size_t n = 0; n < N; ++n) {
                si[n] = Exp(dti * ai[n]) * si[n] + dx * B[n];
                acc += si[n] * C[n];
            }
            y[t * s.d_inner + i] = acc + D[i] * xi;
        }
    }
}

float libm_exp(float v) { return std::exp(v); }

}  // namespace

void selective_scan_scalar(const SelectiveScanShape& shape, const float* x, const float* dt,
                           const float* bc, const float* A, const float* D, float* state,
                           float* y, std::size_t rows) noexcept {
    selective_scan_with<&exp_decay>(shape, x, dt, bc, A, D, state, y, rows);
}

void selective_scan_libm(const SelectiveScanShape& shape, const float* x, const float* dt,
                         const float* bc, const float* A, const float* D, float* state, float* y,
                         std::size_t rows) noexcept {
    selective_scan_with<&libm_exp>(shape, x, dt, bc, A, D, state, y, rows);
}

SelectiveScanKernel select_selective_scan_kernel() noexcept {
    const char* force_scalar = std::getenv("STATESTREAM_SCALAR");
    if (force_scalar != nullptr && force_scalar[0] == '1') return &selective_scan_scalar;
#if defined(STATESTREAM_HAVE_AVX2_KERNELS)
    if (cpu_has_avx2_fma()) return &selective_scan_avx2;
#endif
    return &selective_scan_scalar;
}

}  // namespace statestream::models::cpu
