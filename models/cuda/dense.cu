#include <cublas_v2.h>

#include <algorithm>

#include "models/cuda/dense.cuh"

namespace statestream::models::cuda {

namespace {

constexpr unsigned kNormThreads = 256;

// One warp per (row, group): the group's 1 / rms, then the normalised, weighted channels.
__global__ void __launch_bounds__(kNormThreads)
    normalise_rows_kernel(const float* x, std::uint64_t x_stride, RowNorm norm, unsigned in_dim,
                          std::uint64_t rows, float* out, std::uint64_t out_stride) {
    wait_for_previous_kernel();
    allow_next_kernel();
    const unsigned groups = in_dim / norm.group;
    const unsigned lane = threadIdx.x % 32;
    const std::uint64_t warps = static_cast<std::uint64_t>(gridDim.x) * (blockDim.x / 32);
    const std::uint64_t pairs = rows * groups;
    for (std::uint64_t pair = static_cast<std::uint64_t>(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
         pair < pairs; pair += warps) {
        const std::uint64_t r = pair / groups;
        const unsigned first = static_cast<unsigned>(pair % groups) * norm.group;
        const float* xr = x + r * x_stride + first;
        float sum_sq = 0.0f;
        for (unsigned i = lane; i < norm.group; i += 32) sum_sq += xr[i] * xr[i];
        sum_sq = group_sum(sum_sq, 32);
        const float scale = 1.0f / sqrtf(sum_sq / static_cast<float>(norm.group) + norm.eps);
        float* o = out + r * out_stride + first;
        for (unsigned i = lane; i < norm.group; i += 32) o[i] = xr[i] * scale * norm.weight[first + i];
    }
}

}  // namespace

cudaError_t gemm_product(const LinearArgs& a, cudaStream_t stream, bool programmatic) {
    const GemmPath& g = *a.gemm;
    const float* x = a.x;
    std::uint64_t x_stride = a.x_stride;
    if (a.norm.weight != nullptr) {
        const std::uint64_t pairs = a.rows * (a.in_dim / a.norm.group);
        const std::uint64_t blocks = (pairs + kNormThreads / 32 - 1) / (kNormThreads / 32);
        const cudaError_t status =
            launch(&normalise_rows_kernel, dim3(grid_for(blocks < 65536 * 8 ? blocks : 65536 * 8)),
                   dim3(kNormThreads), 0, stream, programmatic, a.x, a.x_stride, a.norm, a.in_dim,
                   a.rows, g.x, g.x_stride);
        if (status != cudaSuccess) return status;
        x = g.x;
        x_stride = g.x_stride;
    }
    // Row-major Y {rows, out} is column-major Y^T {out, rows} = W {out, in} . X^T, and W
    // row-major is column-major W^T: so op(A) = T on W, op(B) = N on X. cuBLAS counts in int,
    // so a batch is cut into slices whose every offset stays below 2^31.
    const std::uint64_t widest = std::max<std::uint64_t>({x_stride, g.y_stride, a.in_dim, 1});
    const std::uint64_t slice = std::min<std::uint64_t>(0x7fffffffULL / widest, 1u << 20);
    const float one = 1.0f, zero = 0.0f;
    auto* handle = static_cast<cublasHandle_t>(g.handle);
    for (std::uint64_t r0 = 0; r0 < a.rows; r0 += slice) {
        const std::uint64_t n = std::min(slice, a.rows - r0);
        const cublasStatus_t status =
            cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(a.out_dim), static_cast<int>(n),
                        static_cast<int>(a.in_dim), &one, a.weight, static_cast<int>(a.in_dim),
                        x + r0 * x_stride, static_cast<int>(x_stride), &zero, g.y + r0 * g.y_stride,
                        static_cast<int>(g.y_stride));
        if (status != CUBLAS_STATUS_SUCCESS) {
            // No cudaError_t says "cuBLAS failed"; the launch failure is the nearest, and the
            // status itself is what cudaGetErrorString cannot name.
            return cudaErrorLaunchFailure;
        }
    }
    return cudaSuccess;
}

cudaError_t linear_store(const LinearArgs& a, float* y, std::uint64_t y_stride, cudaStream_t stream,
                         bool programmatic) {
    return linear(a, StoreRows{y, y_stride}, stream, programmatic);
}

cudaError_t linear_accumulate(const LinearArgs& a, float* y, std::uint64_t y_stride,
                              cudaStream_t stream, bool programmatic) {
    return linear(a, AccumulateRows{y, y_stride}, stream, programmatic);
}

cudaError_t linear_softplus(const LinearArgs& a, float* y, std::uint64_t y_stride,
                            cudaStream_t stream, bool programmatic) {
    return linear(a, SoftplusRows{y, y_stride}, stream, programmatic);
}

}  // namespace statestream::models::cuda
