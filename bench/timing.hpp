#pragma once
// Per-call CPU time of the calling thread, median and p99, for every benchmark. CPU time, not
// wall time: the VM this was written on stalls for 1-7 ms at times, which wall-clock
// percentiles would report as ours.

#include <sched.h>

#include <algorithm>
#include <cstddef>
#include <ctime>
#include <functional>
#include <vector>

namespace statestream::bench {

inline double thread_cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// Keeps the calling thread on the core it runs on now, so its caches stay warm and a migration
// does not land inside a timed call. Best effort: where the kernel refuses, it runs unpinned.
inline void pin_to_current_core() {
    const int cpu = sched_getcpu();
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)sched_setaffinity(0, sizeof set, &set);
}

struct Timing {
    double median_ns = 0, p99_ns = 0;
    std::size_t samples = 0;
};

// Runs `body` until `seconds` of CPU time (and at least min_samples calls) after 3 warm-up calls.
inline Timing measure(const std::function<void()>& body, double seconds,
                      std::size_t min_samples = 20) {
    for (int i = 0; i < 3; ++i) body();  // warm caches and page tables
    std::vector<double> samples;
    const double budget_ns = seconds * 1e9;
    double spent = 0;
    while (spent < budget_ns || samples.size() < min_samples) {
        const double t0 = thread_cpu_ns();
        body();
        const double dt = thread_cpu_ns() - t0;
        samples.push_back(dt);
        spent += dt;
    }
    std::sort(samples.begin(), samples.end());
    return {samples[samples.size() / 2],
            samples[std::min(samples.size() - 1, samples.size() * 99 / 100)], samples.size()};
}

}  // namespace statestream::bench
