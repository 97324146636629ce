#pragma once
// CPU time of the calling thread, for the cost figures commands report: unlike wall time it does
// not count the time the host's scheduler kept the thread off the CPU.

#include <time.h>

namespace statestream::engine {

inline double thread_cpu_seconds() noexcept {
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

}  // namespace statestream::engine
