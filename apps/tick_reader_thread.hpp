#pragma once
// A tick source read on its own thread, its ticks handed to one consumer (the forecast command's
// model thread) through a lock-free ring. Bad lines are printed on stderr as they are read, the
// first `max_printed_bad_lines` of them; the source's report counts them all.
//
// Order of calls: construct (the thread starts reading), then on the consumer's thread read the
// ring until done() and the ring is empty, calling wait_for_ticks() whenever it is empty, then
// report(). The destructor stops the source and joins, so however the consumer leaves (an
// exception: a full disk) no thread stays blocked on a full ring.

#include <atomic>
#include <cstdint>
#include <exception>
#include <string>
#include <thread>

#include "engine/io/tick_source.hpp"
#include "engine/spsc_ring.hpp"

namespace statestream::apps {

class TickReaderThread {
public:
    // Thread: main. Starts reading. `command` prefixes the bad-line messages
    // ("statestream forecast: ticks.csv:7: ..."). `source` and `ring` must outlive this object.
    TickReaderThread(engine::io::TickSource& source, engine::SpscRing<engine::io::Tick>& ring,
                     std::string command, std::uint64_t max_printed_bad_lines);
    ~TickReaderThread();
    TickReaderThread(const TickReaderThread&) = delete;
    TickReaderThread& operator=(const TickReaderThread&) = delete;

    // Thread: the consumer's. True once the source has ended and its last tick is in the ring.
    [[nodiscard]] bool done() const noexcept { return done_.load(std::memory_order_acquire); }

    // Thread: the consumer's, when the ring is empty. Sleeps (on a futex, no CPU) until the
    // reader pushes a tick or ends.
    void wait_for_ticks();

    // Thread: the consumer's, after done(). The source's report; rethrows what the reader
    // thread threw instead, if it did.
    [[nodiscard]] const engine::io::TickSourceReport& report() const;
    // Thread: the consumer's, after done(). CPU time of the reader thread, and the bad lines it
    // printed (the rest were only counted).
    [[nodiscard]] double cpu_seconds() const noexcept { return cpu_seconds_; }
    [[nodiscard]] std::uint64_t bad_lines_printed() const noexcept { return bad_lines_printed_; }

private:
    void run();
    void wake_consumer();

    engine::io::TickSource& source_;
    engine::SpscRing<engine::io::Tick>& ring_;
    std::string command_;
    std::uint64_t max_printed_bad_lines_;
    std::atomic<bool> abandon_{false};  // the consumer is gone: drop ticks instead of waiting
    std::atomic<bool> done_{false};
    std::atomic<std::uint32_t> pushes_{0};  // counts pushes (wrapping) for the futex wait
    std::atomic<bool> consumer_sleeping_{false};
    // Written by the reader thread before done_ is set (release), read after (acquire).
    engine::io::TickSourceReport report_;
    std::exception_ptr error_;
    double cpu_seconds_ = 0.0;
    std::uint64_t bad_lines_printed_ = 0;
    std::thread thread_;  // last: starts after every member it uses exists
};

}  // namespace statestream::apps
