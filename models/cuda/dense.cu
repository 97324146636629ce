#include "models/cuda/dense.cuh"

namespace statestream::models::cuda {

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
