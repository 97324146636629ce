// The non-real-time pool: tasks run on oneTBB's threads in the pool's own arena, never on the
// thread that starts them, and a task's exception reaches whoever waits.

#include <catch2/catch.hpp>

#include <atomic>
#include <stdexcept>
#include <thread>

#include <tbb/task_arena.h>

#include "engine/non_realtime_pool.hpp"

using statestream::engine::NonRealtimePool;

namespace {
// By value: the constant has no out-of-line definition to bind a reference to.
constexpr int kNotInArena = static_cast<int>(tbb::task_arena::not_initialized);
}  // namespace

TEST_CASE("Pool tasks run inside the pool's arena, and threads outside it are not arena threads",
          "[engine][pool]") {
    // A plain thread, as the real-time worker is: not part of any arena.
    int outside_index = 0;
    std::thread([&] { outside_index = tbb::this_task_arena::current_thread_index(); }).join();
    CHECK(outside_index == kNotInArena);

    NonRealtimePool pool(2);
    std::atomic<int> ran{0};
    std::atomic<int> inside_arena{0};
    for (int i = 0; i < 8; ++i) {
        pool.run([&] {
            if (tbb::this_task_arena::current_thread_index() != kNotInArena &&
                tbb::this_task_arena::max_concurrency() == 2) {
                inside_arena.fetch_add(1);
            }
            ran.fetch_add(1);
        });
    }
    pool.wait();
    CHECK(ran.load() == 8);
    CHECK(inside_arena.load() == 8);
}

TEST_CASE("A pool task's exception is rethrown by wait()", "[engine][pool]") {
    NonRealtimePool pool;
    pool.run([] { throw std::runtime_error("disk full"); });
    CHECK_THROWS_WITH(pool.wait(), "disk full");
}
