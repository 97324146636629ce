#include "dsp/flush_denormals.hpp"

#if defined(__SSE2__)
#include <immintrin.h>
#endif

namespace statestream::dsp {

#if defined(__SSE2__)
namespace {
constexpr unsigned kFlushToZeroBit = 0x8000;       // MXCSR.FTZ: denormal results become 0
constexpr unsigned kDenormalsAreZeroBit = 0x0040;  // MXCSR.DAZ: denormal inputs read as 0
}  // namespace

void enable_flush_to_zero() noexcept {
    _mm_setcsr(_mm_getcsr() | kFlushToZeroBit | kDenormalsAreZeroBit);
}

bool flush_to_zero_enabled() noexcept {
    return (_mm_getcsr() & kFlushToZeroBit) != 0;
}
#else
void enable_flush_to_zero() noexcept {}
bool flush_to_zero_enabled() noexcept { return false; }
#endif

}  // namespace statestream::dsp
