#pragma once
// The kernels behind dense.hpp, for .cu files:
//
//   y[r, o] = epilogue(r, o, sum_i W[o, i] * xn[r, i] + bias[o])      r < rows, o < out_dim
//
// The norm of xn (a layer's pre-norm, the gated norm before out_proj, norm_f before the head)
// is applied as rows are loaded, so the normalised rows never go through device memory. The
// epilogue is a functor: a block that needs an elementwise stage after its projection
// (Mamba-2's causal conv, a softplus) passes its own and saves a kernel and a round trip of the
// projected rows.
//
// Two shapes, picked per call from the row count. Up to kNarrowMaxRows rows (a step of up to
// 64 streams): blocks of 8 rows x 8 output columns, one warp per column reading its weight row
// once, coalesced (16-byte loads where in_dim allows), against the block's rows staged in
// shared memory 1024 channels at a time; the tile kernel would have only a handful of blocks
// there, each looping over in_dim serially (the first H200 run: 0.57 ms a transcriber step at
// B = 64 against 0.07 ms at B = 1). Beyond that, 64 x 64 tiles with a 4 x 4 register tile per
// thread, the next K slice loaded into registers while this one is multiplied. Either
// accumulates each lane's share of in_dim in order and then reduces, as float32 allows.

#include <cstdint>

#include "models/cuda/dense.hpp"
#include "models/cuda/kernel_support.cuh"
#include "models/cuda/layer_io.hpp"

namespace statestream::models::cuda {

inline constexpr std::uint64_t kNarrowMaxRows = kNarrowMaxRowsHost;
inline constexpr unsigned kNarrowThreads = 256;       // 8 warps, one output column each
inline constexpr unsigned kNarrowRows = 8;            // rows a block holds: accumulators per lane
inline constexpr unsigned kNarrowChunk = 1024;        // channels of each row staged at a time
inline constexpr unsigned kTileRows = 64, kTileCols = 64, kTileK = 16, kTileThreads = 256;
static_assert(kTileRows * kMaxNormGroups * sizeof(float) <= kDefaultSharedBytes - 16 * 1024,
              "the tile kernel's norm scales and tiles must fit the default shared memory");
static_assert(kNarrowRows * (kNarrowChunk + kMaxNormGroups) * sizeof(float) <= kDefaultSharedBytes,
              "the narrow kernel's rows and norm scales must fit the default shared memory");

// Per (row, group) of `rows` rows from row0: scales[r * groups + g] = 1 / sqrt(mean x^2 + eps).
// One warp per pair; every thread of the block must call it.
__device__ inline void row_norm_scales(const LinearArgs& a, std::uint64_t row0, unsigned rows,
                                       float* scales) {
    const unsigned groups = a.in_dim / a.norm.group;
    const unsigned warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
    for (unsigned pair = warp; pair < rows * groups; pair += warps) {
        const unsigned r = pair / groups, g = pair % groups;
        const float* xr = a.x + (row0 + r) * a.x_stride + static_cast<std::uint64_t>(g) * a.norm.group;
        float sum_sq = 0.0f;
        for (unsigned i = lane; i < a.norm.group; i += 32) sum_sq += xr[i] * xr[i];
        sum_sq = group_sum(sum_sq, 32);
        if (lane == 0) {
            scales[pair] = 1.0f / sqrtf(sum_sq / static_cast<float>(a.norm.group) + a.norm.eps);
        }
    }
}

// kVec 4: in_dim % 4 == 0, so weight rows and staged rows are read 16 bytes at a time.
template <int kVec, class Epilogue>
__global__ void __launch_bounds__(kNarrowThreads)
    linear_narrow_kernel(LinearArgs a, Epilogue epilogue) {
    __shared__ __align__(16) float xs[kNarrowRows * kNarrowChunk];  // {8 rows, chunk}
    extern __shared__ float scales[];                                // {8 rows, groups}
    wait_for_previous_kernel();
    allow_next_kernel();
    const std::uint64_t row0 = static_cast<std::uint64_t>(blockIdx.y) * kNarrowRows;
    const std::uint64_t left = a.rows - row0;
    const unsigned rows = left < kNarrowRows ? static_cast<unsigned>(left) : kNarrowRows;
    const unsigned K = a.in_dim;
    const bool normed = a.norm.weight != nullptr;
    const unsigned groups = normed ? K / a.norm.group : 0;
    if (normed) {
        row_norm_scales(a, row0, rows, scales);
        __syncthreads();
    }
    const unsigned warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const unsigned col = blockIdx.x * (blockDim.x / 32) + warp;
    const bool active = col < a.out_dim;  // warp-uniform; idle warps still pass the barriers
    const float* w = a.weight + static_cast<std::uint64_t>(active ? col : 0) * K;
    // Rows past the end read the last row again (in bounds) and are not written.
    unsigned at[kNarrowRows];
#pragma unroll
    for (unsigned j = 0; j < kNarrowRows; ++j) at[j] = min(j, rows - 1) * kNarrowChunk;
    float acc[kNarrowRows] = {};
    for (unsigned k0 = 0; k0 < K; k0 += kNarrowChunk) {
        const unsigned width = min(kNarrowChunk, K - k0);
        __syncthreads();  // every warp is done with the previous chunk
        for (unsigned i = threadIdx.x; i < rows * width; i += blockDim.x) {
            const unsigned r = i / width, k = i % width;
            float v = a.x[(row0 + r) * a.x_stride + k0 + k];
            if (normed) v = v * scales[r * groups + (k0 + k) / a.norm.group] * a.norm.weight[k0 + k];
            xs[r * kNarrowChunk + k] = v;
        }
        __syncthreads();
        if (!active) continue;
#pragma unroll 2
        for (unsigned k = lane * kVec; k < width; k += 32 * kVec) {
            if constexpr (kVec == 4) {
                const float4 wk = *reinterpret_cast<const float4*>(w + k0 + k);
#pragma unroll
                for (unsigned j = 0; j < kNarrowRows; ++j) {
                    const float4 xv = *reinterpret_cast<const float4*>(xs + at[j] + k);
                    acc[j] += wk.x * xv.x;
                    acc[j] += wk.y * xv.y;
                    acc[j] += wk.z * xv.z;
                    acc[j] += wk.w * xv.w;
                }
            } else {
                const float wk = w[k0 + k];
#pragma unroll
                for (unsigned j = 0; j < kNarrowRows; ++j) acc[j] += wk * xs[at[j] + k];
            }
        }
    }
    float mine = 0.0f;
#pragma unroll
    for (unsigned j = 0; j < kNarrowRows; ++j) {
        if (j < rows) {  // block-uniform: a B = 1 step reduces one accumulator, not eight
            const float total = group_sum(acc[j], 32);
            if (lane == j) mine = total;
        }
    }
    if (active && lane < rows) {
        epilogue(row0 + lane, col, mine + (a.bias != nullptr ? a.bias[col] : 0.0f));
    }
}

template <class Epilogue>
__global__ void __launch_bounds__(kTileThreads)
    linear_tiled_kernel(LinearArgs a, Epilogue epilogue) {
    __shared__ __align__(16) float xs[kTileK][kTileRows + 4];  // +4: rows stay 16-byte aligned
    __shared__ __align__(16) float ws[kTileK][kTileCols + 4];
    extern __shared__ float scales[];  // {kTileRows, groups}
    wait_for_previous_kernel();
    allow_next_kernel();
    const std::uint64_t row0 = static_cast<std::uint64_t>(blockIdx.x) * kTileRows;
    const unsigned col0 = blockIdx.y * kTileCols;
    const unsigned K = a.in_dim;
    const std::uint64_t left = a.rows - row0;
    const unsigned rows_here = left < kTileRows ? static_cast<unsigned>(left) : kTileRows;
    const bool normed = a.norm.weight != nullptr;
    const unsigned groups = normed ? K / a.norm.group : 0;
    if (normed) {
        row_norm_scales(a, row0, rows_here, scales);
        __syncthreads();
    }
    const unsigned tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    float acc[4][4] = {};
    constexpr unsigned kLoads = kTileRows * kTileK / kTileThreads;  // of X and of W, a thread
    float x_next[kLoads], w_next[kLoads];
    // Loads the K slice from k0 into registers: thread t takes elements t + i * 256 of the
    // 64 x 16 slices, 16 consecutive channels of a row per 16 threads (coalesced).
    const auto load_slice = [&](unsigned k0) {
#pragma unroll
        for (unsigned i = 0; i < kLoads; ++i) {
            const unsigned idx = threadIdx.x + i * kTileThreads;
            const unsigned r = idx / kTileK, k = k0 + idx % kTileK;
            float v = 0.0f;
            if (r < rows_here && k < K) {
                v = a.x[(row0 + r) * a.x_stride + k];
                if (normed) v = v * scales[r * groups + k / a.norm.group] * a.norm.weight[k];
            }
            x_next[i] = v;
            const unsigned c = col0 + r;  // the same split over W's rows
            w_next[i] = c < a.out_dim && k < K ? a.weight[static_cast<std::uint64_t>(c) * K + k] : 0.0f;
        }
    };
    load_slice(0);
    for (unsigned k0 = 0; k0 < K; k0 += kTileK) {
#pragma unroll
        for (unsigned i = 0; i < kLoads; ++i) {
            const unsigned idx = threadIdx.x + i * kTileThreads;
            xs[idx % kTileK][idx / kTileK] = x_next[i];
            ws[idx % kTileK][idx / kTileK] = w_next[i];
        }
        __syncthreads();
        if (k0 + kTileK < K) load_slice(k0 + kTileK);  // in flight while this slice multiplies
#pragma unroll
        for (unsigned kk = 0; kk < kTileK; ++kk) {
            const float4 xv = *reinterpret_cast<const float4*>(&xs[kk][ty * 4]);
            const float4 wv = *reinterpret_cast<const float4*>(&ws[kk][tx * 4]);
            const float xr[4] = {xv.x, xv.y, xv.z, xv.w};
            const float wc[4] = {wv.x, wv.y, wv.z, wv.w};
#pragma unroll
            for (unsigned i = 0; i < 4; ++i) {
#pragma unroll
                for (unsigned j = 0; j < 4; ++j) acc[i][j] += xr[i] * wc[j];
            }
        }
        __syncthreads();
    }
#pragma unroll
    for (unsigned i = 0; i < 4; ++i) {
        const unsigned r = ty * 4 + i;
        if (r >= rows_here) continue;
#pragma unroll
        for (unsigned j = 0; j < 4; ++j) {
            const unsigned c = col0 + tx * 4 + j;
            if (c < a.out_dim) epilogue(row0 + r, c, acc[i][j] + (a.bias != nullptr ? a.bias[c] : 0.0f));
        }
    }
}

// The cuBLAS half of a large-batch projection (dense.cu): a.gemm->y = RMSNorm(X) W^T, without
// the bias. The norm, when asked for, runs first as its own kernel into a.gemm->x.
[[nodiscard]] cudaError_t gemm_product(const LinearArgs& a, cudaStream_t stream, bool programmatic);

inline constexpr unsigned kEpilogueThreads = 256;

// The other half: every (row, column) of the product gets the bias and the block's epilogue.
template <class Epilogue>
__global__ void __launch_bounds__(kEpilogueThreads)
    gemm_epilogue_kernel(const float* product, std::uint64_t stride, const float* bias,
                         std::uint64_t rows, unsigned out_dim, Epilogue epilogue) {
    wait_for_previous_kernel();
    allow_next_kernel();
    const std::uint64_t items = rows * out_dim;
    for (std::uint64_t i = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < items;
         i += static_cast<std::uint64_t>(gridDim.x) * blockDim.x) {
        const std::uint64_t r = i / out_dim;
        const auto c = static_cast<unsigned>(i % out_dim);
        epilogue(r, c, product[r * stride + c] + (bias != nullptr ? bias[c] : 0.0f));
    }
}

// Enqueues y = epilogue(X W^T + bias) on `stream`, with the kernel shape for a.rows rows.
template <class Epilogue>
cudaError_t linear(const LinearArgs& a, const Epilogue& epilogue, cudaStream_t stream,
                   bool programmatic) {
    const std::size_t groups = a.norm.weight != nullptr ? a.in_dim / a.norm.group : 0;
    if (a.gemm != nullptr && a.rows > kNarrowMaxRows && a.rows >= a.gemm->min_rows) {
        const cudaError_t status = gemm_product(a, stream, programmatic);
        if (status != cudaSuccess) return status;
        const std::uint64_t items = a.rows * a.out_dim;
        const std::uint64_t blocks = (items + kEpilogueThreads - 1) / kEpilogueThreads;
        return launch(&gemm_epilogue_kernel<Epilogue>,
                      dim3(grid_for(blocks < 65536 * 8 ? blocks : 65536 * 8)), dim3(kEpilogueThreads),
                      0, stream, programmatic, static_cast<const float*>(a.gemm->y), a.gemm->y_stride,
                      a.bias, a.rows, a.out_dim, epilogue);
    }
    if (a.rows <= kNarrowMaxRows) {
        const unsigned warps = kNarrowThreads / 32;
        const dim3 grid((a.out_dim + warps - 1) / warps,
                        static_cast<unsigned>((a.rows + kNarrowRows - 1) / kNarrowRows));
        const std::size_t bytes = kNarrowRows * groups * sizeof(float);
        return a.in_dim % 4 == 0
                   ? launch(&linear_narrow_kernel<4, Epilogue>, grid, dim3(kNarrowThreads), bytes,
                            stream, programmatic, a, epilogue)
                   : launch(&linear_narrow_kernel<1, Epilogue>, grid, dim3(kNarrowThreads), bytes,
                            stream, programmatic, a, epilogue);
    }
    const std::uint64_t row_tiles = (a.rows + kTileRows - 1) / kTileRows;
    const dim3 grid(static_cast<unsigned>(row_tiles), (a.out_dim + kTileCols - 1) / kTileCols);
    return launch(&linear_tiled_kernel<Epilogue>, grid, dim3(kTileThreads),
                  kTileRows * groups * sizeof(float), stream, programmatic, a, epilogue);
}

// The plain epilogues.
struct StoreRows {
    float* y;                 // {rows, stride}
    std::uint64_t stride;
    __device__ void operator()(std::uint64_t r, unsigned c, float v) const { y[r * stride + c] = v; }
};
struct AccumulateRows {       // the residual: h += mixer output
    float* y;
    std::uint64_t stride;
    __device__ void operator()(std::uint64_t r, unsigned c, float v) const { y[r * stride + c] += v; }
};
struct SoftplusRows {         // Mamba-1's dt = softplus(dt_proj(dt_low) + bias)
    float* y;
    std::uint64_t stride;
    __device__ void operator()(std::uint64_t r, unsigned c, float v) const {
        y[r * stride + c] = softplus(v);
    }
};

}  // namespace statestream::models::cuda
