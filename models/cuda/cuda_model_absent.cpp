// Compiled instead of cuda_model.cpp and the kernels when the build has no CUDA toolkit: the
// type exists so that callers build, and constructing one says why it cannot run.
#include <exception>
#include <stdexcept>

#include "models/cuda/cuda_model.hpp"

namespace statestream::models::cuda {

struct CudaModel::Impl {};

CudaModel::CudaModel(const SsmModel&, std::size_t, StreamHandle, CudaModelOptions) {
    throw std::runtime_error(
        "this statestream was built without CUDA (nvcc was not found at configure time); "
        "rebuild with the CUDA toolkit or use the CPU path");
}
CudaModel::~CudaModel() = default;

// Unreachable: no CudaModel can be constructed. Each says so rather than returning a value.
[[noreturn]] static void unreachable() { throw std::logic_error("CudaModel without CUDA"); }

const SsmModel& CudaModel::model() const noexcept { std::terminate(); }
std::size_t CudaModel::max_streams() const noexcept { return 0; }
std::size_t CudaModel::input_dim() const noexcept { return 0; }
std::size_t CudaModel::output_dim() const noexcept { return 0; }
StreamHandle CudaModel::stream() const noexcept { return nullptr; }
std::uint64_t CudaModel::state_bytes_per_stream() const noexcept { return 0; }
std::uint64_t CudaModel::weight_bytes() const noexcept { return 0; }
float* CudaModel::device_input() noexcept { return nullptr; }
const float* CudaModel::device_output() const noexcept { return nullptr; }
StepStatus CudaModel::enqueue_step(std::size_t) noexcept { return {1, "built without CUDA"}; }
void CudaModel::prepare_graph(std::size_t) { unreachable(); }
StepStatus CudaModel::launch_graph(std::size_t) noexcept { return {1, "built without CUDA"}; }
void CudaModel::upload_state(std::size_t, const StreamState&) { unreachable(); }
void CudaModel::download_state(std::size_t, StreamState&) const { unreachable(); }
void CudaModel::broadcast_state(const StreamState&, std::size_t) { unreachable(); }
void CudaModel::step_batch(std::span<const float>, std::span<float>) { unreachable(); }
void CudaModel::forward(std::span<const float>, std::span<float>, std::size_t) { unreachable(); }
void CudaModel::synchronize() const { unreachable(); }

}  // namespace statestream::models::cuda
