#pragma once
// `statestream bench ssm`: the SSM core's speed, each figure beside a baseline measured in the
// same run (a memory copy of the same bytes; the portable scalar kernel). Never pass/fail.

#include <cstddef>

namespace statestream::bench {

struct SsmBenchOptions {
    double seconds_per_case = 0.5;  // CPU time spent measuring each row of the table
};

// Thread: main. Prints the table to stdout; returns 0.
int run_ssm_bench(const SsmBenchOptions& options);

}  // namespace statestream::bench
