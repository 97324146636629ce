#include "models/cpu/mamba3_scan.hpp"

#include <cstdlib>

#include "models/cpu/ssd_scan.hpp"

namespace statestream::models::cpu {

void mamba3_scan_scalar(const Mamba3ScanShape& shape, const float* coef, const float* xr,
                        const float* B, const float* C, const float* prev_xr,
                        const float* prev_b, float* state, float* y, std::size_t rows) noexcept {
    mamba3_scan_reference<float>(shape, coef, xr, B, C, prev_xr, prev_b, state, y, rows);
}

Mamba3ScanKernel select_mamba3_scan_kernel() noexcept {
    const char* force_scalar = std::getenv("STATESTREAM_SCALAR");
    if (force_scalar != nullptr && force_scalar[0] == '1') return &mamba3_scan_scalar;
#if defined(STATESTREAM_HAVE_AVX2_KERNELS)
    if (cpu_has_avx2_fma()) return &mamba3_scan_avx2;
#endif
    return &mamba3_scan_scalar;
}

}  // namespace statestream::models::cpu
