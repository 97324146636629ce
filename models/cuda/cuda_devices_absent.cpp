// Compiled instead of cuda_devices.cu when the build has no CUDA toolkit.
#include "models/cuda/cuda_devices.hpp"

namespace statestream::models::cuda {

CudaDeviceList list_cuda_devices() {
    CudaDeviceList list;
    list.why_none = "this statestream was built without CUDA (nvcc was not found at configure time)";
    return list;
}

}  // namespace statestream::models::cuda
