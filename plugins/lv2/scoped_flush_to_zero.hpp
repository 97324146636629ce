#pragma once
// Flush-to-zero and denormals-are-zero for the length of one run(), then the host's own setting
// back: decaying filter tails and model states reach denormal range in silence, where x86
// arithmetic is many times slower (dsp/flush_denormals.hpp), but the thread belongs to the host,
// whose floating-point mode is not ours to keep.

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace statestream::plugins {

class ScopedFlushToZero {
public:
#if defined(__SSE__) || defined(__x86_64__)
    // MXCSR bit 15 is FTZ, bit 6 DAZ (Intel SDM vol. 1, 10.2.3).
    static constexpr unsigned kFlushBits = 0x8040u;
    ScopedFlushToZero() noexcept : saved_(_mm_getcsr()) { _mm_setcsr(saved_ | kFlushBits); }
    ~ScopedFlushToZero() { _mm_setcsr(saved_); }

private:
    unsigned saved_;
#else
    ScopedFlushToZero() noexcept = default;
#endif

public:
    ScopedFlushToZero(const ScopedFlushToZero&) = delete;
    ScopedFlushToZero& operator=(const ScopedFlushToZero&) = delete;
};

}  // namespace statestream::plugins
