#pragma once
// Proof that real-time code does not allocate or lock: the test binary that links
// allocation_hooks.cpp replaces malloc, calloc, realloc, free and the aligned allocators (and so
// operator new and delete, which call them) and pthread_mutex_lock/trylock, forwarding to glibc
// and counting every call made while the calling thread is armed. Only armed threads count, so library threads and the test's own setup do not.
// Release tree only: the sanitizers bring their own allocator.

#include <cstdint>

namespace statestream::test {

// Arms the current thread for its lifetime. Thread: the one under test.
class ArmAllocationHooks {
public:
    ArmAllocationHooks() noexcept;
    ~ArmAllocationHooks();
    ArmAllocationHooks(const ArmAllocationHooks&) = delete;
    ArmAllocationHooks& operator=(const ArmAllocationHooks&) = delete;
};

// Allocator calls (malloc, free, ...) made on armed threads since the process started.
[[nodiscard]] std::uint64_t armed_allocator_calls() noexcept;
// pthread_mutex_lock / trylock calls made on armed threads (std::mutex goes through them).
[[nodiscard]] std::uint64_t armed_lock_calls() noexcept;

// Arms or disarms the calling thread without a scope, for code that runs on a thread the test
// does not own (a stage's process() on the real-time worker thread).
void arm_this_thread(bool armed) noexcept;

}  // namespace statestream::test
