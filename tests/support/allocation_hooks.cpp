#include "tests/support/allocation_hooks.hpp"

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include <dlfcn.h>
#include <pthread.h>

extern "C" {
void* __libc_malloc(std::size_t size);
void* __libc_calloc(std::size_t count, std::size_t size);
void* __libc_realloc(void* pointer, std::size_t size);
void __libc_free(void* pointer);
void* __libc_memalign(std::size_t alignment, std::size_t size);
}

namespace {
thread_local bool armed = false;
std::atomic<std::uint64_t> calls{0};
std::atomic<std::uint64_t> lock_calls{0};

void note() noexcept {
    if (armed) calls.fetch_add(1, std::memory_order_relaxed);
}

using MutexFunction = int (*)(pthread_mutex_t*);
MutexFunction real_lock = nullptr;
MutexFunction real_trylock = nullptr;

// Resolved before main, on one thread, so the hooks never call dlsym (which may lock) later.
__attribute__((constructor)) void resolve_mutex_functions() {
    real_lock = reinterpret_cast<MutexFunction>(dlsym(RTLD_NEXT, "pthread_mutex_lock"));
    real_trylock = reinterpret_cast<MutexFunction>(dlsym(RTLD_NEXT, "pthread_mutex_trylock"));
}
}  // namespace

namespace statestream::test {
ArmAllocationHooks::ArmAllocationHooks() noexcept { armed = true; }
ArmAllocationHooks::~ArmAllocationHooks() { armed = false; }
std::uint64_t armed_allocator_calls() noexcept { return calls.load(std::memory_order_relaxed); }
std::uint64_t armed_lock_calls() noexcept { return lock_calls.load(std::memory_order_relaxed); }
void arm_this_thread(bool on) noexcept { armed = on; }
}  // namespace statestream::test

extern "C" {

void* malloc(std::size_t size) {
    note();
    return __libc_malloc(size);
}
void* calloc(std::size_t count, std::size_t size) {
    note();
    return __libc_calloc(count, size);
}
void* realloc(void* pointer, std::size_t size) {
    note();
    return __libc_realloc(pointer, size);
}
void free(void* pointer) {
    if (pointer != nullptr) note();
    __libc_free(pointer);
}
void* aligned_alloc(std::size_t alignment, std::size_t size) {
    note();
    return __libc_memalign(alignment, size);
}
void* memalign(std::size_t alignment, std::size_t size) {
    note();
    return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t size) {
    note();
    void* pointer = __libc_memalign(alignment, size);
    if (pointer == nullptr) return ENOMEM;
    *out = pointer;
    return 0;
}

int pthread_mutex_lock(pthread_mutex_t* mutex) {
    if (armed) lock_calls.fetch_add(1, std::memory_order_relaxed);
    return real_lock(mutex);
}
int pthread_mutex_trylock(pthread_mutex_t* mutex) {
    if (armed) lock_calls.fetch_add(1, std::memory_order_relaxed);
    return real_trylock(mutex);
}

}  // extern "C"
