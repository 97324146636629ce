#pragma once
// `statestream bench dsp`: the signal front-ends' cost per hop, each beside a baseline measured
// in the same run (the same chain with FFTW plans made per call). Never pass/fail.

namespace statestream::bench {

struct DspBenchOptions {
    double seconds_per_case = 0.5;  // CPU time spent measuring each row
};

// Thread: main. Prints the table to stdout; returns 0.
int run_dsp_bench(const DspBenchOptions& options);

}  // namespace statestream::bench
