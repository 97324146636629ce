#pragma once
// `statestream bench enhance`: the enhancer's CPU cost per 10 ms hop on one core, as
// percentiles and as a real-time factor, beside speexdsp's denoiser on the same audio in the
// same run (the baseline its quality is judged against).

#include <string>

namespace statestream::bench {

struct EnhanceBenchOptions {
    double seconds_per_case = 1.0;
    std::string model_path;  // an enhancer model file
};

// Thread: main. Pins itself to the core it is on, prints the table to stdout; returns 0.
int run_enhance_bench(const EnhanceBenchOptions& options);

}  // namespace statestream::bench
