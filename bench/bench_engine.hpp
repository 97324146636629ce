#pragma once
// `statestream bench engine`: the runtime's own costs, each beside a baseline measured in the
// same run (a mutex + condition-variable queue; the model stepped without the pipeline).

namespace statestream::bench {

struct EngineBenchOptions {
    double seconds_per_case = 0.5;
};

// Thread: main. Prints the tables to stdout; returns 0.
int run_engine_bench(const EngineBenchOptions& options);

}  // namespace statestream::bench
