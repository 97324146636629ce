#pragma once
// Dense projections of a batch of rows on the device (the GPU twin of models/cpu/dense.hpp),
// the host-visible part: the arguments and the three plain entry points. The kernels, and the
// template that block files instantiate with their own epilogues, are in dense.cuh.
//
//   y[r, o] = sum_i W[o, i] * xn[r, i] + bias[o]      r < rows, o < out_dim
//
// xn is row r of X, RMS-normalised in groups and scaled by a norm weight first when asked.

#include <cuda_runtime_api.h>

#include <cstdint>

#include "models/cuda/layer_io.hpp"

namespace statestream::models::cuda {

// RMSNorm of X's rows before the product: xn = x / sqrt(mean over the group of x^2 + eps) *
// weight, in groups of `group` consecutive channels; no norm when weight is nullptr.
struct RowNorm {
    const float* weight = nullptr;  // {in_dim}
    unsigned group = 0;             // divides in_dim
    float eps = 0.0f;
};

struct LinearArgs {
    const float* x = nullptr;         // {rows, x_stride}, the first in_dim floats of each row used
    std::uint64_t x_stride = 0;
    const float* weight = nullptr;    // {out_dim, in_dim}
    const float* bias = nullptr;      // {out_dim} or nullptr
    std::uint64_t rows = 0;
    unsigned in_dim = 0;
    unsigned out_dim = 0;
    RowNorm norm;
    // Given, and rows >= gemm->min_rows: norm kernel -> cuBLAS SGEMM -> epilogue kernel,
    // instead of the tile kernel (docs/cuda.md, "Projections at large B").
    const GemmPath* gemm = nullptr;
};

// Rows up to which the narrow kernel runs (dense.cuh's kNarrowMaxRows, for host code): beyond
// it, cuBLAS when the model has a GemmPath, else the tile kernel.
inline constexpr std::uint64_t kNarrowMaxRowsHost = 64;

// The two projections every block makes around its mixer: in from the residual stream under
// the layer's pre-norm, and out from the mixed rows (gated-normed when `norm` says so).
[[nodiscard]] inline LinearArgs input_projection(const LayerIo& io, const float* weight,
                                                 unsigned out_dim) {
    LinearArgs a;
    a.x = io.h;
    a.x_stride = io.h_stride;
    a.weight = weight;
    a.rows = io.rows;
    a.in_dim = io.d_model;
    a.out_dim = out_dim;
    a.norm = {io.pre_norm, io.d_model, io.eps};
    a.gemm = io.gemm;
    return a;
}
[[nodiscard]] inline LinearArgs output_projection(const LayerIo& io, const float* weight,
                                                  unsigned in_dim, RowNorm norm = {}) {
    LinearArgs a;
    a.x = io.mix;
    a.x_stride = io.mix_stride;
    a.weight = weight;
    a.rows = io.rows;
    a.in_dim = in_dim;
    a.out_dim = io.d_model;
    a.norm = norm;
    a.gemm = io.gemm;
    return a;
}

// Thread: as CudaModel::enqueue_step. Enqueue on `stream`; y {rows, y_stride}.
// y = X W^T + bias
[[nodiscard]] cudaError_t linear_store(const LinearArgs& a, float* y, std::uint64_t y_stride,
                                       cudaStream_t stream, bool programmatic);
// y += X W^T + bias (a residual)
[[nodiscard]] cudaError_t linear_accumulate(const LinearArgs& a, float* y, std::uint64_t y_stride,
                                            cudaStream_t stream, bool programmatic);
// y = softplus(X W^T + bias) (Mamba-1's dt)
[[nodiscard]] cudaError_t linear_softplus(const LinearArgs& a, float* y, std::uint64_t y_stride,
                                          cudaStream_t stream, bool programmatic);

}  // namespace statestream::models::cuda
