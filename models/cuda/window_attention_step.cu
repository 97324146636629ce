#include "models/cuda/window_attention_step.hpp"

#include <cmath>

#include "models/cuda/dense.cuh"

namespace statestream::models::cuda {

namespace {

// One block per stream: its cursor is shared by every head, so the block that reads it is the
// one that advances it, after every thread has read it.
constexpr unsigned kAttentionThreads = 128;

struct AttentionArgs {
    const float* qkv;          // {rows, qkv_stride}: q | k | v, each {n_heads, head_dim}
    std::uint64_t qkv_stride;
    float* keys;               // {rows, window, n_heads, head_dim}
    float* values;             // {rows, window, n_heads, head_dim}
    float* cursor;             // {rows, 2}
    float* out;                // {rows, out_stride}: softmax(q k^T / sqrt(head_dim)) v per head
    std::uint64_t out_stride;
    std::uint64_t rows;
    unsigned n_heads, head_dim, window;
    float scale;               // 1 / sqrt(head_dim)
};

// The CPU's cursor_value(): NaN or negative is 0, anything above `limit` is `limit`.
__device__ unsigned cursor_value(float stored, unsigned limit) {
    if (!(stored >= 0.0f)) return 0;
    return stored >= static_cast<float>(limit) ? limit : static_cast<unsigned>(stored);
}

// Reduces `v` over the block (max or sum); every thread gets the result.
template <bool kMax>
__device__ float block_reduce(float v, float* scratch) {
    for (unsigned offset = 16; offset > 0; offset >>= 1) {
        const float other = __shfl_xor_sync(0xffffffffu, v, static_cast<int>(offset));
        v = kMax ? fmaxf(v, other) : v + other;
    }
    const unsigned warp = threadIdx.x / 32, warps = blockDim.x / 32;
    if (threadIdx.x % 32 == 0) scratch[warp] = v;
    __syncthreads();
    float total = scratch[0];
    for (unsigned w = 1; w < warps; ++w) total = kMax ? fmaxf(total, scratch[w]) : total + scratch[w];
    __syncthreads();  // scratch may be reused at once
    return total;
}

__global__ void __launch_bounds__(kAttentionThreads) attention_kernel(AttentionArgs a) {
    extern __shared__ float scores[];  // {window}
    __shared__ float scratch[kAttentionThreads / 32];
    wait_for_previous_kernel();
    allow_next_kernel();
    const unsigned H = a.n_heads, Dh = a.head_dim, W = a.window;
    const unsigned inner = H * Dh;
    for (std::uint64_t b = blockIdx.x; b < a.rows; b += gridDim.x) {
        const float* q = a.qkv + b * a.qkv_stride;
        float* keys = a.keys + b * W * inner;
        float* values = a.values + b * W * inner;
        float* cursor = a.cursor + b * 2;
        unsigned slot = cursor_value(cursor[0], W - 1);
        unsigned live = cursor_value(cursor[1], W);
        for (unsigned i = threadIdx.x; i < inner; i += blockDim.x) {
            keys[static_cast<std::uint64_t>(slot) * inner + i] = q[inner + i];
            values[static_cast<std::uint64_t>(slot) * inner + i] = q[2 * inner + i];
        }
        __syncthreads();  // the new entry is written, and every thread has read the cursor
        slot = slot + 1 == W ? 0 : slot + 1;
        live = live + 1 < W ? live + 1 : W;
        const unsigned oldest = (slot + W - live) % W;
        for (unsigned h = 0; h < H; ++h) {
            const float* qh = q + h * Dh;
            float top = -INFINITY;
            for (unsigned j = threadIdx.x; j < live; j += blockDim.x) {
                const float* kj = keys + static_cast<std::uint64_t>((oldest + j) % W) * inner + h * Dh;
                float dot = 0.0f;
                for (unsigned d = 0; d < Dh; ++d) dot += qh[d] * kj[d];
                scores[j] = dot * a.scale;
                top = fmaxf(top, scores[j]);
            }
            top = block_reduce<true>(top, scratch);
            float total = 0.0f;
            for (unsigned j = threadIdx.x; j < live; j += blockDim.x) {
                scores[j] = expf(scores[j] - top);
                total += scores[j];
            }
            total = block_reduce<false>(total, scratch);  // its barriers publish scores too
            for (unsigned d = threadIdx.x; d < Dh; d += blockDim.x) {
                float o = 0.0f;
                for (unsigned j = 0; j < live; ++j) {
                    const float p = scores[j] / total;
                    o += p * values[static_cast<std::uint64_t>((oldest + j) % W) * inner + h * Dh + d];
                }
                a.out[b * a.out_stride + h * Dh + d] = o;
            }
            __syncthreads();  // scores are free for the next head
        }
        if (threadIdx.x == 0) {
            cursor[0] = static_cast<float>(slot);
            cursor[1] = static_cast<float>(live);
        }
    }
}

}  // namespace

cudaError_t window_attention_step(const WindowAttentionDevice& layer, const LayerIo& io) {
    const WindowAttentionSpec& s = layer.spec;
    const unsigned inner = s.n_heads * s.head_dim;

    const LinearArgs in = input_projection(io, layer.qkv_proj, 3 * inner);
    cudaError_t status = linear_store(in, io.proj, io.proj_stride, io.stream, io.programmatic);
    if (status != cudaSuccess) return status;

    const AttentionArgs args{io.proj, io.proj_stride, layer.keys, layer.values, layer.cursor,
                             io.mix, io.mix_stride, io.rows, s.n_heads, s.head_dim, s.window,
                             1.0f / std::sqrt(static_cast<float>(s.head_dim))};
    status = launch(&attention_kernel, dim3(grid_for(io.rows)), dim3(kAttentionThreads),
                    s.window * sizeof(float), io.stream, io.programmatic, args);
    if (status != cudaSuccess) return status;

    const LinearArgs out = output_projection(io, layer.out_proj, inner);
    return linear_accumulate(out, io.h, io.h_stride, io.stream, io.programmatic);
}

}  // namespace statestream::models::cuda
