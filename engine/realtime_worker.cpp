#include "engine/realtime_worker.hpp"

#include <bit>
#include <chrono>
#include <stdexcept>

#include "dsp/flush_denormals.hpp"
#include "engine/single_writer_counter.hpp"

namespace statestream::engine {

namespace {
std::size_t ring_floats(std::size_t block, std::size_t steps) {
    return std::bit_ceil(block * (steps < 2 ? 2 : steps));
}
std::int64_t monotonic_ns() noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}
}  // namespace

RealtimeWorker::RealtimeWorker(Pipeline& pipeline, const WorkerConfig& config)
    : pipeline_(pipeline),
      config_(config),
      in_floats_(pipeline.input().floats()),
      out_floats_(pipeline.output().floats()),
      input_(ring_floats(in_floats_, config.ring_steps)),
      output_(ring_floats(out_floats_, config.ring_steps)),
      meter_(static_cast<std::int64_t>(pipeline.step_seconds() * 1e9)),
      in_block_(in_floats_),
      out_block_(out_floats_) {
    if (config.policy == OverloadPolicy::kPassThrough &&
        (pipeline.input().floats() != pipeline.output().floats() ||
         pipeline.input().rate_hz != pipeline.output().rate_hz)) {
        throw std::invalid_argument(
            "realtime worker: pass-through on overload needs the pipeline's output shaped like its "
            "input (audio in, audio out); use the drop policy for this pipeline");
    }
    sem_init(&wake_, 0, 0);
}

RealtimeWorker::~RealtimeWorker() {
    stop();
    sem_destroy(&wake_);
}

void RealtimeWorker::start() {
    if (running_.exchange(true)) return;
    thread_ = std::thread([this] { run(); });
}

void RealtimeWorker::stop() {
    if (!running_.exchange(false)) return;
    sem_post(&wake_);
    thread_.join();
}

bool RealtimeWorker::push_input(std::span<const float> in) noexcept {
    if (input_.writable() < in_floats_) {
        increment_single_writer(input_overruns_);
        return false;
    }
    (void)input_.write(in);
    increment_single_writer(pushed_);
    sem_post(&wake_);
    return true;
}

bool RealtimeWorker::pop_output(std::span<float> out) noexcept {
    if (output_.readable() < out_floats_) return false;
    (void)output_.read(out);
    return true;
}

void RealtimeWorker::emit(std::span<const float> block) noexcept {
    if (output_.writable() < block.size()) {
        increment_single_writer(output_overruns_);
        return;
    }
    (void)output_.write(block);
}

void RealtimeWorker::run() noexcept {
    dsp::enable_flush_to_zero();
    for (;;) {
        while (sem_wait(&wake_) != 0) {
        }  // EINTR: a signal arrived; wait again
        while (input_.readable() >= in_floats_) {
            (void)input_.read(in_block_);
            // Blocks still waiting behind this one: if more than the bound, this one is late
            // enough that processing it would only push the delay further; shed it.
            const std::size_t backlog = input_.readable() / in_floats_;
            if (backlog > config_.max_backlog_steps) {
                if (config_.policy == OverloadPolicy::kPassThrough) {
                    emit(in_block_);
                    increment_single_writer(passed_through_);
                } else {
                    increment_single_writer(dropped_);
                }
                continue;
            }
            const std::int64_t t0 = monotonic_ns();
            pipeline_.step(in_block_, out_block_);
            meter_.record(monotonic_ns() - t0);
            increment_single_writer(processed_);
            emit(out_block_);
        }
        if (!running_.load(std::memory_order_acquire) && input_.readable() < in_floats_) return;
    }
}

WorkerCounters RealtimeWorker::counters() const noexcept {
    return {pushed_.load(std::memory_order_relaxed),         input_overruns_.load(std::memory_order_relaxed),
            processed_.load(std::memory_order_relaxed),      passed_through_.load(std::memory_order_relaxed),
            dropped_.load(std::memory_order_relaxed),        output_overruns_.load(std::memory_order_relaxed)};
}

}  // namespace statestream::engine
