#pragma once
// Runs a pipeline on its own real-time thread, fed and drained through SPSC rings: the audio
// callback (or a file reader) pushes input blocks and pops output blocks without waiting; the
// worker steps the pipeline, times every step against the deadline (one step's duration) and,
// when it falls behind, sheds work by the declared policy so the delay stays bounded:
//
//   kPassThrough  audio in = audio out shapes (the enhancer): a block that waited longer than
//                 the bound is passed through unprocessed (dry), and counted;
//   kDrop         anything else (features to text, ticks): such a block is dropped, and counted.
//
// The worker thread enables flush-to-zero, allocates nothing, takes no lock and never logs; it
// sleeps on a semaphore only when there is nothing to do. Statistics are relaxed atomics that
// any thread reads at any time.

#include <atomic>
#include <cstdint>
#include <semaphore.h>
#include <span>
#include <thread>
#include <vector>

#include "engine/deadline_meter.hpp"
#include "engine/pipeline.hpp"
#include "engine/spsc_ring.hpp"

namespace statestream::engine {

enum class OverloadPolicy { kPassThrough, kDrop };

struct WorkerConfig {
    OverloadPolicy policy = OverloadPolicy::kDrop;
    // Blocks that may wait in the input ring before the policy sheds them: the most delay (in
    // steps) the worker adds on top of the pipeline's own latency.
    std::size_t max_backlog_steps = 4;
    // Ring sizes, in steps (rounded up to a power of two of floats).
    std::size_t ring_steps = 64;
};

struct WorkerCounters {
    std::uint64_t pushed = 0;          // input blocks accepted
    std::uint64_t input_overruns = 0;  // input blocks refused: the input ring was full
    std::uint64_t processed = 0;       // steps the pipeline ran
    std::uint64_t passed_through = 0;  // blocks shed by kPassThrough
    std::uint64_t dropped = 0;         // blocks shed by kDrop
    std::uint64_t output_overruns = 0; // output blocks lost: nobody drained the output ring
};

class RealtimeWorker {
public:
    // Thread: setup. The pipeline must outlive the worker and not be stepped by anyone else
    // while it runs. kPassThrough needs the pipeline's output shape equal to its input shape.
    RealtimeWorker(Pipeline& pipeline, const WorkerConfig& config);
    ~RealtimeWorker();
    RealtimeWorker(const RealtimeWorker&) = delete;
    RealtimeWorker& operator=(const RealtimeWorker&) = delete;

    // Thread: setup. Starts the worker thread.
    void start();
    // Thread: setup. Processes what is queued, then stops and joins the thread.
    void stop();

    // Thread: producer (the audio callback). in.size() == pipeline input floats. False when the
    // input ring is full (counted as an overrun; the block is lost).
    bool push_input(std::span<const float> in) noexcept;
    // Thread: producer. Blocks queued for the worker now: a file reader pushes only while this
    // is at most max_backlog_steps, so the policy never sheds a file's blocks.
    [[nodiscard]] std::size_t input_backlog() const noexcept { return input_.readable() / in_floats_; }
    // Thread: consumer. Output blocks that still fit in the output ring: a file reader also
    // waits for this, so a slow sink slows the reader instead of losing blocks.
    [[nodiscard]] std::size_t output_room() const noexcept { return output_.writable() / out_floats_; }
    [[nodiscard]] const WorkerConfig& config() const noexcept { return config_; }
    // Thread: consumer. out.size() == pipeline output floats. False when no block is ready.
    bool pop_output(std::span<float> out) noexcept;

    [[nodiscard]] const DeadlineMeter& meter() const noexcept { return meter_; }
    [[nodiscard]] const Pipeline& pipeline() const noexcept { return pipeline_; }
    // Thread: any.
    [[nodiscard]] WorkerCounters counters() const noexcept;

private:
    void run() noexcept;
    void emit(std::span<const float> block) noexcept;

    Pipeline& pipeline_;
    WorkerConfig config_;
    std::size_t in_floats_;
    std::size_t out_floats_;
    SpscRing<float> input_;
    SpscRing<float> output_;
    DeadlineMeter meter_;
    std::vector<float> in_block_;
    std::vector<float> out_block_;
    // POSIX: sem_post is async-signal-safe and takes no lock, so the audio callback may post;
    // std::counting_semaphore may wait through a mutex-guarded pool for wide counters.
    sem_t wake_{};
    std::atomic<bool> running_{false};
    std::thread thread_;

    std::atomic<std::uint64_t> pushed_{0}, input_overruns_{0}, processed_{0}, passed_through_{0},
        dropped_{0}, output_overruns_{0};
};

}  // namespace statestream::engine
