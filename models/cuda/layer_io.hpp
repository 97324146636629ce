#pragma once
// What every block's device step shares: the residual stream it updates, its pre-norm, the
// scratch rows it may use, and where and how to launch. A plain C++17 header (host compilers
// and nvcc both read it); the kernels live in the block's .cu file.
//
//   h {rows, h_stride} += mixer(RMSNorm(h) * pre_norm)        one step of `rows` streams

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace statestream::models::cuda {

// Where the large-batch projections go through cuBLAS (dense.cuh, linear()): the handle, bound
// to the model's stream with its own workspace, and two scratch blocks for the normalised
// input rows and the raw product rows. nullptr in LayerIo::gemm: the hand-written kernels only.
struct GemmPath {
    void* handle = nullptr;          // a cublasHandle_t
    float* x = nullptr;              // {rows, x_stride}: RMS-normalised input rows
    std::uint64_t x_stride = 0;
    float* y = nullptr;              // {rows, y_stride}: X W^T before bias and epilogue
    std::uint64_t y_stride = 0;
    std::uint64_t min_rows = 0;      // projections of at least this many rows use it
};

struct LayerIo {
    float* h = nullptr;               // {rows, h_stride}: the residual stream, d_model used
    std::uint64_t h_stride = 0;
    const float* pre_norm = nullptr;  // {d_model}: the layer's norm.weight
    unsigned d_model = 0;
    float eps = 0.0f;
    std::uint64_t rows = 0;           // streams stepped; row r is stream r's state row
    // Scratch rows, each stride a multiple of 4 floats (16-byte rows): the block's projection,
    // its mixed output before out_proj, and two more (Mamba-1's x_proj and dt).
    float* proj = nullptr;
    std::uint64_t proj_stride = 0;
    float* mix = nullptr;
    std::uint64_t mix_stride = 0;
    float* aux = nullptr;
    std::uint64_t aux_stride = 0;
    float* aux2 = nullptr;
    std::uint64_t aux2_stride = 0;
    cudaStream_t stream = nullptr;
    bool programmatic = false;        // programmatic dependent launch (kernel_support.cuh)
    const GemmPath* gemm = nullptr;   // large batches through cuBLAS; nullptr: never
};

// The tile kernel of dense.cuh keeps one norm scale per row and group in shared memory
// (64 rows x groups floats), so a gated norm may have at most this many groups.
inline constexpr unsigned kMaxNormGroups = 128;
// Dynamic shared memory a kernel may take without raising its limit (the default per block).
inline constexpr std::size_t kDefaultSharedBytes = 48 * 1024;

// Rounded up to a multiple of 4 floats: scratch rows start 16-byte aligned.
[[nodiscard]] inline std::uint64_t padded_floats(std::uint64_t n) { return (n + 3) / 4 * 4; }

}  // namespace statestream::models::cuda
