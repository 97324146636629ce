#include "models/cuda/cuda_devices.hpp"

#include <cuda_runtime.h>

namespace statestream::models::cuda {

namespace {

// Writes a known value so the host can tell a kernel really ran: a device the binary has no
// machine code for (another architecture) fails here rather than at the first model step.
__global__ void probe_kernel(int* out) { *out = 0x5ca1ab1e; }

bool probe(int device) {
    if (cudaSetDevice(device) != cudaSuccess) return false;
    int* value = nullptr;
    if (cudaMalloc(&value, sizeof(int)) != cudaSuccess) return false;
    int host = 0;
    probe_kernel<<<1, 1>>>(value);
    const bool ran = cudaGetLastError() == cudaSuccess &&
                     cudaMemcpy(&host, value, sizeof(int), cudaMemcpyDeviceToHost) == cudaSuccess &&
                     host == 0x5ca1ab1e;
    cudaFree(value);
    return ran;
}

}  // namespace

CudaDeviceList list_cuda_devices() {
    CudaDeviceList list;
    list.built_with_cuda = true;
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess) {
        list.why_none = std::string("CUDA runtime: ") + cudaGetErrorString(status);
        return list;
    }
    if (count == 0) {
        list.why_none = "no CUDA device found";
        return list;
    }
    for (int i = 0; i < count; ++i) {
        cudaDeviceProp props{};
        if (cudaGetDeviceProperties(&props, i) != cudaSuccess) continue;
        CudaDevice device;
        device.index = i;
        device.name = props.name;
        device.compute_major = props.major;
        device.compute_minor = props.minor;
        device.multiprocessors = props.multiProcessorCount;
        device.memory_bytes = props.totalGlobalMem;
        device.runs_kernels = probe(i);
        list.devices.push_back(device);
    }
    return list;
}

}  // namespace statestream::models::cuda
