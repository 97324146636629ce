#pragma once
// `statestream bench soak`: whether a step still costs the same after ten million of them.
// Every shipped model and one small model of each block type is stepped `steps` times on one
// stream, one call at a time, as a live stream would be; the per-step CPU time of the calling
// thread (p50, p99, p99.9, max) is reported for the first and the last window of steps, beside
// the same percentiles of the clock read alone (the baseline: what timing adds to each step),
// with the process's resident memory after the first step (weights paged in) and after the last.
//
// With `callgrind_windows`, nothing is timed: instead, under `valgrind --tool=callgrind
// --instr-atstart=no` (scripts/soak_callgrind.sh), instrumentation is switched on for a window
// of steps early in the run and one at its end, and each window's counts are dumped on their
// own, so instructions per step early and late can be compared. Stepping 10^7 times under
// valgrind would take days (it emulates FMA instructions one helper call each), so a native run
// saves each case's state at the windows' starts (state_snapshot.hpp: restored bit for bit) and
// the valgrind run starts each window from the saved state. A benchmark never passes or fails;
// it prints.

#include <cstdint>
#include <string>
#include <vector>

namespace statestream::bench {

struct SoakBenchOptions {
    // Models stepped besides the block-type cases (the shipped ones, found by the caller).
    std::vector<std::string> model_paths;
    std::uint64_t steps = 10'000'000;
    // Steps in each of the two timed windows (first and last); at most steps / 2.
    std::uint64_t window_steps = 1'000'000;
    // Only the cases whose name contains this text (empty: all).
    std::string only;
    // Callgrind mode: `callgrind_window_steps` steps instrumented early, the same number at the end.
    bool callgrind_windows = false;
    std::uint64_t callgrind_window_steps = 1000;
    // Where each case's state is saved at the start of the two callgrind windows (any mode), as
    // KEY.step-N.state; empty: not saved.
    std::string save_states_dir;
    // Callgrind mode only: start each window from the state saved there instead of stepping up
    // to it, so a window 10^7 steps in costs 10^3 steps under valgrind, not 10^7.
    std::string load_states_dir;
};

// Thread: main. Prints to stdout; returns 0. Throws models::ModelFileError for a model file
// that does not load, and std::invalid_argument for sizes out of range or a filter that
// matches no case.
int run_soak_bench(const SoakBenchOptions& options);

}  // namespace statestream::bench
