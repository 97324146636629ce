// CUDA device discovery. Without a GPU (CI) the test reports why it skipped; with one, the probe
// kernel built for this binary's architectures must run on every listed device.

#include <catch2/catch.hpp>

#include "models/cuda/cuda_devices.hpp"

TEST_CASE("CUDA devices are listed and run a probe kernel", "[models][cuda]") {
    const auto list = statestream::models::cuda::list_cuda_devices();
    if (list.devices.empty()) {
        WARN("SKIPPED: CUDA device tests (" << list.why_none << ")");
        CHECK_FALSE(list.why_none.empty());
        return;
    }
    for (const auto& device : list.devices) {
        INFO("device " << device.index << " " << device.name << " compute " << device.compute_major
                       << "." << device.compute_minor);
        CHECK(device.memory_bytes > 0);
        CHECK(device.runs_kernels);
    }
}
