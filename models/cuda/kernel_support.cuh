#pragma once
// What every CUDA kernel of the models layer shares: the launch with programmatic dependent
// launch, the two calls each kernel makes about it, the activations with the reference's exact
// definitions (models/cpu/activations.hpp), warp reductions and the error check for setup code.

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

// Lanes per row of `chunks` work items: the next power of two, at most a warp.
inline unsigned lanes_for(unsigned chunks) {
    unsigned lanes = 1;
    while (lanes < chunks && lanes < 32) lanes <<= 1;
    return lanes;
}

}  // namespace statestream::models::cuda
