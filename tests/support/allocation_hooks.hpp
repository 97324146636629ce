#pragma once
// Proof that real-time code does not allocate: the test binary that links allocation_hooks.cpp
// replaces malloc, calloc, realloc, free and the aligned allocators (and so operator new and
// delete, which call them), forwarding to glibc and counting every call made while the calling
// thread is armed. Only armed threads count, so library threads and the test's own setup do not.
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

}  // namespace statestream::test
