#include "dsp/real_fft.hpp"

#include <fftw3.h>

#include <mutex>
#include <new>
#include <stdexcept>
#include <string>

namespace statestream::dsp {

namespace {
// FFTW's planner keeps global state; only plan execution is thread-safe. Our mutex orders our
// own planning; FFTW's own thread-safe planner mode also covers code we do not control that
// plans in the same process (other plugins in an audio host).
std::mutex& planner_mutex() {
    static std::once_flag once;
    std::call_once(once, [] { fftwf_make_planner_thread_safe(); });
    static std::mutex mutex;
    return mutex;
}
}  // namespace

struct RealFft::Plans {
    float* time = nullptr;
    fftwf_complex* spectrum = nullptr;
    fftwf_plan forward = nullptr;
    fftwf_plan inverse = nullptr;

    ~Plans() {
        const std::lock_guard lock(planner_mutex());
        if (forward != nullptr) fftwf_destroy_plan(forward);
        if (inverse != nullptr) fftwf_destroy_plan(inverse);
        fftwf_free(time);
        fftwf_free(spectrum);
    }
};

RealFft::RealFft(std::size_t size, FftPlanning planning) : size_(size), plans_(new Plans) {
    if (size < 2 || size > (std::size_t{1} << 24)) {
        throw std::invalid_argument("RealFft: size " + std::to_string(size) +
                                    " is outside 2..16777216");
    }
    const int n = static_cast<int>(size);
    plans_->time = fftwf_alloc_real(size);
    plans_->spectrum = fftwf_alloc_complex(bins());
    if (plans_->time == nullptr || plans_->spectrum == nullptr) throw std::bad_alloc();
    const unsigned flags = planning == FftPlanning::kMeasure ? FFTW_MEASURE : FFTW_ESTIMATE;
    {
        const std::lock_guard lock(planner_mutex());
        // MEASURE scribbles on the buffers while it times candidates; they are cleared below.
        plans_->forward = fftwf_plan_dft_r2c_1d(n, plans_->time, plans_->spectrum, flags);
        plans_->inverse = fftwf_plan_dft_c2r_1d(n, plans_->spectrum, plans_->time, flags);
    }
    if (plans_->forward == nullptr || plans_->inverse == nullptr) {
        throw std::runtime_error("RealFft: FFTW could not plan a real FFT of size " +
                                 std::to_string(size));
    }
    for (auto& value : time()) value = 0.0f;
    for (auto& value : spectrum()) value = 0.0f;
}

RealFft::~RealFft() = default;
RealFft::RealFft(RealFft&&) noexcept = default;
RealFft& RealFft::operator=(RealFft&&) noexcept = default;

std::span<float> RealFft::time() noexcept { return {plans_->time, size_}; }

std::span<std::complex<float>> RealFft::spectrum() noexcept {
    // fftwf_complex is float[2], layout-compatible with std::complex<float> (FFTW manual 4.1.1).
    return {reinterpret_cast<std::complex<float>*>(plans_->spectrum), bins()};
}

void RealFft::forward() noexcept { fftwf_execute(plans_->forward); }
void RealFft::inverse() noexcept { fftwf_execute(plans_->inverse); }

}  // namespace statestream::dsp
