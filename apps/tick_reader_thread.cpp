#include "apps/tick_reader_thread.hpp"

#include <chrono>

#include <fmt/core.h>

#include "engine/thread_cpu_clock.hpp"

namespace statestream::apps {

namespace {

// The reader polls a full ring this often: the consumer is behind then, and a poll costs less
// than waking the reader for every slot it frees. (An empty ring is waited on with a futex
// instead, so a quiet live feed costs no CPU and a tick is taken the moment it arrives.)
constexpr auto kFullRingWait = std::chrono::microseconds(100);

}  // namespace

TickReaderThread::TickReaderThread(engine::io::TickSource& source,
                                   engine::SpscRing<engine::io::Tick>& ring, std::string command,
                                   std::uint64_t max_printed_bad_lines)
    : source_(source), ring_(ring), command_(std::move(command)),
      max_printed_bad_lines_(max_printed_bad_lines), thread_([this] { run(); }) {}

TickReaderThread::~TickReaderThread() {
    abandon_.store(true, std::memory_order_release);
    source_.stop();
    if (thread_.joinable()) thread_.join();
}

// Seq-cst on both sides (Dekker): either the consumer sees the new count and does not sleep, or
// the reader (wake_consumer) sees consumer_sleeping_ and wakes it.
void TickReaderThread::wait_for_ticks() {
    const std::uint32_t seen = pushes_.load(std::memory_order_seq_cst);
    consumer_sleeping_.store(true, std::memory_order_seq_cst);
    if (ring_.readable() == 0 && !done()) pushes_.wait(seen, std::memory_order_seq_cst);
    consumer_sleeping_.store(false, std::memory_order_relaxed);
}

const engine::io::TickSourceReport& TickReaderThread::report() const {
    if (error_) std::rethrow_exception(error_);
    return report_;
}

void TickReaderThread::wake_consumer() {
    pushes_.fetch_add(1, std::memory_order_seq_cst);
    if (consumer_sleeping_.load(std::memory_order_seq_cst)) pushes_.notify_one();
}

void TickReaderThread::run() {
    const double cpu_start = engine::thread_cpu_seconds();
    try {
        engine::io::TickCallbacks callbacks;
        callbacks.on_tick = [this](const engine::io::Tick& tick) {
            while (!ring_.try_push(tick)) {
                if (abandon_.load(std::memory_order_acquire)) return;  // nobody will read it
                std::this_thread::sleep_for(kFullRingWait);
            }
            wake_consumer();
        };
        callbacks.on_bad_line = [this](const engine::io::TickError&, std::string_view report_line) {
            if (bad_lines_printed_ >= max_printed_bad_lines_) return;
            ++bad_lines_printed_;
            fmt::print(stderr, "statestream {}: {}\n", command_, report_line);
            if (bad_lines_printed_ == max_printed_bad_lines_) {
                fmt::print(stderr, "statestream {}: further bad lines are counted only\n", command_);
            }
        };
        report_ = source_.run(callbacks);
    } catch (...) {
        error_ = std::current_exception();
    }
    cpu_seconds_ = engine::thread_cpu_seconds() - cpu_start;
    done_.store(true, std::memory_order_release);  // publishes the report and the last pushes
    wake_consumer();
}

}  // namespace statestream::apps
