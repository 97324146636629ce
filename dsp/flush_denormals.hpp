#pragma once
// Decaying states and filter tails reach ~1e-38 during silence; denormal arithmetic on x86 is
// many times slower and would break the per-step deadline. Every real-time thread (audio
// callback, RT worker, plugin run()) sets flush-to-zero and denormals-are-zero once at start.

namespace statestream::dsp {

// Thread: real-time (call once when the thread starts). Sets FTZ and DAZ in this thread's
// floating-point control register; other threads are unaffected. No-op on CPUs without them.
void enable_flush_to_zero() noexcept;

// True when this thread currently flushes denormal results to zero.
[[nodiscard]] bool flush_to_zero_enabled() noexcept;

}  // namespace statestream::dsp
