#pragma once
// CUDA devices visible to this process, for `statestream devices` and for choosing --device cuda.
// Built without CUDA, the list is empty and the reason says so.

#include <cstdint>
#include <string>
#include <vector>

namespace statestream::models::cuda {

struct CudaDevice {
    int index = 0;
    std::string name;
    int compute_major = 0;
    int compute_minor = 0;
    int multiprocessors = 0;
    std::uint64_t memory_bytes = 0;
    bool runs_kernels = false;  // a probe kernel built for this binary's architectures ran
};

struct CudaDeviceList {
    bool built_with_cuda = false;
    std::vector<CudaDevice> devices;
    std::string why_none;  // set when devices is empty: no driver, no device, not built
};

// Thread: setup. Queries the runtime and launches one tiny probe kernel per device.
[[nodiscard]] CudaDeviceList list_cuda_devices();

}  // namespace statestream::models::cuda
