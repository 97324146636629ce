#include "models/cpu/ssd_scan.hpp"

#include <cmath>
#include <cstdlib>

namespace statestream::models::cpu {

void ssd_scan_scalar(const SsdScanShape& s, const float* xbc, const float* dt, const float* A,
              const float* D, float* state, float* y, std::size_t rows) noexcept {
    const std::size_t heads_per_group = s.n_heads / s.n_groups;
    const std::size_t b_offset = s.d_inner;
    const std::size_t c_offset = s.d_inner + s.n_groups * s.d_state;
    for (std::size_t h = 0; h < s.n_heads; ++h) {
        const std::size_t g = h / heads_per_group;
        float* head_state = state + h * s.head_dim * s.d_state;
        for (std::size_t t = 0; t < rows; ++t) {
            const float* row = xbc + t * s.row_stride;
            const float* x = row + h * s.head_dim;
            const float* B = row + b_offset + g * s.d_state;
            const float* C = row + c_offset + g * s.d_state;
            const float dt_h = dt[t * s.n_heads + h];
            const float decay = std::exp(dt_h * A[h]);
            float* yt = y + t * s.d_inner + h * s.head_dim;
            for (std::size_t p = 0; p < s.head_dim; ++p) {
                float* sp = head_state + p * s.d_state;
                const float dtx = dt_h * x[p];
                float acc = 0.0f;
                for (std::size_t n = 0; n < s.d_state; ++n) {
                    sp[n] = sp[n] * decay + dtx * B[n];
                    acc += sp[n] * C[n];
                }
                yt[p] = acc + D[h] * x[p];
            }
        }
    }
}

bool cpu_has_avx2_fma() noexcept {
#if defined(__x86_64__) && defined(STATESTREAM_HAVE_AVX2_KERNELS)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

SsdScanKernel select_ssd_scan_kernel() noexcept {
    const char* force_scalar = std::getenv("STATESTREAM_SCALAR");
    if (force_scalar != nullptr && force_scalar[0] == '1') return &ssd_scan_scalar;
#if defined(STATESTREAM_HAVE_AVX2_KERNELS)
    if (cpu_has_avx2_fma()) return &ssd_scan_avx2;
#endif
    return &ssd_scan_scalar;
}

const char* ssd_scan_kernel_name(SsdScanKernel kernel) noexcept {
#if defined(STATESTREAM_HAVE_AVX2_KERNELS)
    if (kernel == &ssd_scan_avx2) return "avx2+fma";
#endif
    return kernel == &ssd_scan_scalar ? "scalar" : "?";
}

}  // namespace statestream::models::cpu
