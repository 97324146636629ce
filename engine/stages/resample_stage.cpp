#include "engine/stages/resample_stage.hpp"

#include <numeric>
#include <stdexcept>

#include <fmt/core.h>

namespace statestream::engine {

namespace {
std::size_t output_block(std::uint32_t in_hz, std::uint32_t out_hz, std::size_t block_in) {
    const auto scaled = static_cast<std::uint64_t>(block_in) * out_hz;
    if (block_in == 0 || scaled % in_hz != 0) {
        throw std::invalid_argument(fmt::format(
            "resample: a block of {} samples at {} Hz is not a whole number of samples at {} Hz; "
            "pick a block that is a multiple of {} samples",
            block_in, in_hz, out_hz, in_hz / std::gcd(in_hz, out_hz)));
    }
    return static_cast<std::size_t>(scaled / in_hz);
}
}  // namespace

ResampleStage::ResampleStage(std::uint32_t input_rate_hz, std::uint32_t output_rate_hz,
                             std::size_t block_in, dsp::ResamplerQuality quality)
    : input_{1, static_cast<double>(input_rate_hz), block_in},
      output_{1, static_cast<double>(output_rate_hz),
              output_block(input_rate_hz, output_rate_hz, block_in)},
      resampler_({input_rate_hz, output_rate_hz, quality, block_in}) {}

std::string ResampleStage::describe() const {
    return fmt::format("resample {}->{} Hz", input_.rate_hz, output_.rate_hz);
}

double ResampleStage::latency_seconds() const noexcept {
    return static_cast<double>(resampler_.latency_samples()) / output_.rate_hz;
}

void ResampleStage::process(std::span<const float> in, std::span<float> out) noexcept {
    // A whole-sample block gives exactly output_.block samples every call (stream_resampler.hpp).
    (void)resampler_.process(in, out);
}

}  // namespace statestream::engine
