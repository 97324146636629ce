#include "models/cpu/dense.hpp"

#include <cmath>

#include "models/cpu/ssd_scan.hpp"

namespace statestream::models::cpu {

namespace {
// Rows processed together per weight row: 8 rows of up to a few hundred floats stay in L1
// while one weight row streams past them.
constexpr std::size_t kRowBlock = 8;
}  // namespace

void linear_scalar(std::span<const float> weight, std::span<const float> bias, std::size_t in_dim,
            std::size_t out_dim, const float* x, std::size_t x_stride, float* y,
            std::size_t y_stride, std::size_t rows) noexcept {
    for (std::size_t row0 = 0; row0 < rows; row0 += kRowBlock) {
        const std::size_t row_end = row0 + kRowBlock < rows ? row0 + kRowBlock : rows;
        for (std::size_t o = 0; o < out_dim; ++o) {
            const float* w = weight.data() + o * in_dim;
            const float b = bias.empty() ? 0.0f : bias[o];
            for (std::size_t t = row0; t < row_end; ++t) {
                const float* xt = x + t * x_stride;
                float acc = 0.0f;
                for (std::size_t i = 0; i < in_dim; ++i) acc += w[i] * xt[i];
                y[t * y_stride + o] = acc + b;
            }
        }
    }
}

void rms_norm_rows(const float* x, float* y, std::span<const float> weight, std::size_t dim,
                   std::size_t group, float eps, std::size_t rows, std::size_t stride) noexcept {
    for (std::size_t t = 0; t < rows; ++t) {
        const float* xt = x + t * stride;
        float* yt = y + t * stride;
        for (std::size_t g0 = 0; g0 < dim; g0 += group) {
            float sum_sq = 0.0f;
            for (std::size_t i = g0; i < g0 + group; ++i) sum_sq += xt[i] * xt[i];
            const float scale = 1.0f / std::sqrt(sum_sq / static_cast<float>(group) + eps);
            for (std::size_t i = g0; i < g0 + group; ++i) yt[i] = xt[i] * scale * weight[i];
        }
    }
}

LinearKernel select_linear_kernel() noexcept {
#if defined(STATESTREAM_HAVE_AVX2_KERNELS)
    if (select_ssd_scan_kernel() == &ssd_scan_avx2) return &linear_avx2;
#endif
    return &linear_scalar;
}

}  // namespace statestream::models::cpu
