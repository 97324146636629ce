#pragma once
// What every CUDA kernel of the models layer shares: the launch with programmatic dependent
// launch, the two calls each kernel makes about it, the activations with the reference's exact
// definitions (models/cpu/activations.hpp), warp reductions and the error check for setup code.

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

namespace statestream::models::cuda {

// Setup code only: throws with the failing call, where it was, and CUDA's reason.
inline void check(cudaError_t status, const char* expr, const char* file, int line) {
    if (status != cudaSuccess) {
        throw std::runtime_error(std::string(file) + ":" + std::to_string(line) + ": " + expr +
                                 " failed: " + cudaGetErrorString(status));
    }
}
#define SS_CUDA_CHECK(expr) ::statestream::models::cuda::check((expr), #expr, __FILE__, __LINE__)

// Every kernel calls this before it touches global memory. With programmatic dependent
// launch the kernel may start while the previous kernel on the stream still runs; this waits
// until that kernel has finished and its writes are visible. Because every kernel waits
// before it finishes, finishing implies that all earlier kernels finished too.
__device__ __forceinline__ void wait_for_previous_kernel() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Lets the next kernel on the stream be scheduled now (it still waits, above, for our results).
__device__ __forceinline__ void allow_next_kernel() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" :::);
#endif
}

// Launches `kernel`, with programmatic stream serialisation when `programmatic` is set.
template <class... Params, class... Args>
cudaError_t launch(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t shared_bytes,
                   cudaStream_t stream, bool programmatic, Args&&... args) {
    cudaLaunchConfig_t config{};
    config.gridDim = grid;
    config.blockDim = block;
    config.dynamicSmemBytes = shared_bytes;
    config.stream = stream;
    cudaLaunchAttribute attribute[1];
    attribute[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attribute[0].val.programmaticStreamSerializationAllowed = 1;
    config.attrs = attribute;
    config.numAttrs = programmatic ? 1 : 0;
    return cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
}

// Blocks for a grid-stride loop over `items`: at most what one launch may have in x.
inline unsigned grid_for(std::uint64_t items) {
    constexpr std::uint64_t kMaxGridX = 0x7fffffffULL;
    return static_cast<unsigned>(items < kMaxGridX ? (items == 0 ? 1 : items) : kMaxGridX);
}

__device__ __forceinline__ float silu(float x) { return x / (1.0f + expf(-x)); }
__device__ __forceinline__ float softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }
__device__ __forceinline__ float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

// Sum over aligned groups of `width` lanes (a power of two <= 32); every lane of the warp must
// call it, and every lane of a group gets the group's sum.
__device__ __forceinline__ float group_sum(float v, unsigned width) {
    for (unsigned offset = width >> 1; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, static_cast<int>(offset));
    }
    return v;
}

// The SSM state as stored: float32, or bfloat16 (CudaModelOptions::state_type), which halves
// the bytes a step moves. Arithmetic is float32 either way: a value is widened on load and
// rounded to nearest even on store. Index j counts pieces of 4 (the 16- or 8-byte paths) or
// single values.
__device__ __forceinline__ float4 load_state4(const float* row, unsigned j) {
    return reinterpret_cast<const float4*>(row)[j];
}
__device__ __forceinline__ float4 load_state4(const __nv_bfloat16* row, unsigned j) {
    const uint2 raw = reinterpret_cast<const uint2*>(row)[j];
    const float2 lo = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&raw.x));
    const float2 hi = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&raw.y));
    return make_float4(lo.x, lo.y, hi.x, hi.y);
}
__device__ __forceinline__ void store_state4(float* row, unsigned j, float4 s) {
    reinterpret_cast<float4*>(row)[j] = s;
}
__device__ __forceinline__ void store_state4(__nv_bfloat16* row, unsigned j, float4 s) {
    const __nv_bfloat162 lo = __floats2bfloat162_rn(s.x, s.y);
    const __nv_bfloat162 hi = __floats2bfloat162_rn(s.z, s.w);
    uint2 raw;
    raw.x = *reinterpret_cast<const unsigned*>(&lo);
    raw.y = *reinterpret_cast<const unsigned*>(&hi);
    reinterpret_cast<uint2*>(row)[j] = raw;
}
__device__ __forceinline__ float load_state1(const float* row, unsigned j) { return row[j]; }
__device__ __forceinline__ float load_state1(const __nv_bfloat16* row, unsigned j) {
    return __bfloat162float(row[j]);
}
__device__ __forceinline__ void store_state1(float* row, unsigned j, float s) { row[j] = s; }
__device__ __forceinline__ void store_state1(__nv_bfloat16* row, unsigned j, float s) {
    row[j] = __float2bfloat16_rn(s);
}

// Launches kernel<kVec, State> for the row width and the state type a layer has: 16-byte
// (8-byte in bfloat16) pieces when d_state % 4 == 0, single values otherwise.
#define SS_LAUNCH_SCAN(kernel, vec4, bf16, ...)                                                  \
    ((vec4) ? ((bf16) ? launch(&kernel<4, __nv_bfloat16>, __VA_ARGS__)                            \
                      : launch(&kernel<4, float>, __VA_ARGS__))                                   \
            : ((bf16) ? launch(&kernel<1, __nv_bfloat16>, __VA_ARGS__)                            \
                      : launch(&kernel<1, float>, __VA_ARGS__)))

// Lanes per row of `chunks` work items: the next power of two, at most a warp.
inline unsigned lanes_for(unsigned chunks) {
    unsigned lanes = 1;
    while (lanes < chunks && lanes < 32) lanes <<= 1;
    return lanes;
}

}  // namespace statestream::models::cuda
