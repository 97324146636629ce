#pragma once
// The threads for everything off the real-time path (writing files, formatting output,
// decoders that may allocate): a oneTBB arena with its own task group. The real-time worker
// and audio callbacks are plain threads outside it, so a long task here never runs on, or
// steals from, a real-time thread.

#include <functional>

#include <tbb/task_arena.h>
#include <tbb/task_group.h>

namespace statestream::engine {

class NonRealtimePool {
public:
    // Thread: setup. max_threads 0: one per core.
    explicit NonRealtimePool(int max_threads = 0)
        : arena_(max_threads > 0 ? max_threads : tbb::task_arena::automatic) {}
    // Waits for every task, so none outlives what it refers to.
    ~NonRealtimePool() {
        try {
            wait();
        } catch (...) {  // a task's error was not collected; nothing left to report it to
        }
    }
    NonRealtimePool(const NonRealtimePool&) = delete;
    NonRealtimePool& operator=(const NonRealtimePool&) = delete;

    // Thread: control. Starts `task` on the pool and returns at once.
    void run(std::function<void()> task) {
        arena_.execute([&] { group_.run(std::move(task)); });
    }
    // Thread: control. Waits for every task started so far; rethrows the first exception one
    // of them threw.
    void wait() {
        arena_.execute([&] { group_.wait(); });
    }

private:
    tbb::task_arena arena_;
    tbb::task_group group_;
};

}  // namespace statestream::engine
