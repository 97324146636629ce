#pragma once
// One real FFT size with its forward (r2c) and inverse (c2r) FFTW plans, made once at
// construction, and the aligned buffers they run on. Executing a plan is allocation-free and
// thread-safe; making one is neither, so construction takes a process-wide planner lock.

#include <complex>
#include <cstddef>
#include <memory>
#include <span>

namespace statestream::dsp {

enum class FftPlanning {
    kMeasure,   // FFTW_MEASURE: tries algorithms at construction (ms), fastest execution
    kEstimate,  // FFTW_ESTIMATE: no trial runs; the benchmark's per-call baseline uses it
};

class RealFft {
public:
    // Thread: setup. size >= 2; allocates the buffers and makes both plans.
    explicit RealFft(std::size_t size, FftPlanning planning = FftPlanning::kMeasure);
    ~RealFft();
    RealFft(const RealFft&) = delete;
    RealFft& operator=(const RealFft&) = delete;
    RealFft(RealFft&&) noexcept;
    RealFft& operator=(RealFft&&) noexcept;

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t bins() const noexcept { return size_ / 2 + 1; }

    // The time-domain buffer (size() floats) and the spectrum buffer (bins() values) the plans
    // read and write. Fill one, call forward()/inverse(), read the other.
    [[nodiscard]] std::span<float> time() noexcept;
    [[nodiscard]] std::span<std::complex<float>> spectrum() noexcept;

    // Thread: real-time. time() -> spectrum(), unnormalised (numpy.fft.rfft's convention).
    void forward() noexcept;
    // Thread: real-time. spectrum() -> time(), unnormalised (size() * numpy.fft.irfft);
    // overwrites spectrum() (FFTW's c2r destroys its input).
    void inverse() noexcept;

private:
    struct Plans;
    std::size_t size_ = 0;
    std::unique_ptr<Plans> plans_;
};

}  // namespace statestream::dsp
