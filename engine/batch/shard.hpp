#pragma once
// `--shard I/N`: N machines (a Slurm job array, say) share one batch without a coordinator.
// Every machine lists the same files in the same order (input_list.hpp) and takes those whose
// index in that list is I modulo N. Shards are disjoint, together they hold every file, and
// their sizes differ by at most one; striding rather than cutting the list into N runs also
// spreads a folder of long recordings over all the machines.

#include <cstddef>
#include <string_view>
#include <vector>

#include "engine/batch/input_list.hpp"

namespace statestream::engine::batch {

struct Shard {
    std::size_t index = 0;  // I, 0-based (Slurm's SLURM_ARRAY_TASK_ID with --array=0-(N-1))
    std::size_t count = 1;  // N
};

// Thread: setup. "I/N" with 0 <= I < N; throws BatchInputError naming the text and the form.
[[nodiscard]] Shard parse_shard(std::string_view text);

// Thread: any. The items at indices I, I + N, I + 2N, ... of `all`, in that order.
[[nodiscard]] std::vector<BatchItem> select_shard(const std::vector<BatchItem>& all, Shard shard);

}  // namespace statestream::engine::batch
