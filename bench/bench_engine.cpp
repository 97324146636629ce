#include "bench/bench_engine.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <fmt/core.h>

#include "bench/timing.hpp"
#include "engine/pipeline.hpp"
#include "engine/spsc_ring.hpp"
#include "engine/stages/model_stage.hpp"
#include "models/model_file.hpp"

namespace statestream::bench {

namespace {

// The baseline every lock-free queue is compared with: a bounded deque under a mutex, with
// condition variables for full and empty.
class MutexQueue {
public:
    explicit MutexQueue(std::size_t capacity) : capacity_(capacity) {}
    void push(std::uint64_t item) {
        std::unique_lock lock(mutex_);
        not_full_.wait(lock, [&] { return items_.size() < capacity_; });
        items_.push_back(item);
        not_empty_.notify_one();
    }
    std::uint64_t pop() {
        std::unique_lock lock(mutex_);
        not_empty_.wait(lock, [&] { return !items_.empty(); });
        const std::uint64_t item = items_.front();
        items_.pop_front();
        not_full_.notify_one();
        return item;
    }

private:
    std::size_t capacity_;
    std::mutex mutex_;
    std::condition_variable not_full_, not_empty_;
    std::deque<std::uint64_t> items_;
};

// The ring with the same blocking interface, spinning (with yields) where the mutex queue waits.
class RingQueue {
public:
    explicit RingQueue(std::size_t capacity) : ring_(capacity) {}
    void push(std::uint64_t item) {
        while (!ring_.try_push(item)) std::this_thread::yield();
    }
    std::uint64_t pop() {
        std::uint64_t item = 0;
        while (!ring_.try_pop(item)) std::this_thread::yield();
        return item;
    }

private:
    engine::SpscRing<std::uint64_t> ring_;
};

double now_ns() {
    return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

template <typename Queue>
double items_per_second(std::uint64_t items) {
    Queue queue(1024);
    const double t0 = now_ns();
    std::thread producer([&] {
        for (std::uint64_t i = 0; i < items; ++i) queue.push(i);
    });
    std::uint64_t sum = 0;
    for (std::uint64_t i = 0; i < items; ++i) sum += queue.pop();
    producer.join();
    const double seconds = (now_ns() - t0) / 1e9;
    if (sum != items * (items - 1) / 2) fmt::print("  (checksum mismatch: {} != {})\n", sum, items * (items - 1) / 2);
    return static_cast<double>(items) / seconds;
}

// Round trips through two queues; one-way latency is half of each round trip (wall clock).
template <typename Queue>
Timing one_way_latency(std::size_t trips) {
    Queue there(64);
    Queue back(64);
    std::thread echo([&] {
        for (std::size_t i = 0; i < trips; ++i) back.push(there.pop());
    });
    std::vector<double> samples;
    samples.reserve(trips);
    for (std::size_t i = 0; i < trips; ++i) {
        const double t0 = now_ns();
        there.push(i);
        (void)back.pop();
        samples.push_back((now_ns() - t0) / 2.0);
    }
    echo.join();
    std::sort(samples.begin(), samples.end());
    return {samples[samples.size() / 2], samples[samples.size() * 99 / 100], samples.size()};
}

}  // namespace

int run_engine_bench(const EngineBenchOptions& options) {
    fmt::print("statestream bench engine: {} hardware threads\n\n", std::thread::hardware_concurrency());

    const auto items = static_cast<std::uint64_t>(2e7 * options.seconds_per_case);
    const double ring_rate = items_per_second<RingQueue>(items);
    const double mutex_rate = items_per_second<MutexQueue>(items / 10);
    fmt::print("queue throughput, one producer and one consumer thread, capacity 1024, {} items\n", items);
    fmt::print("  {:<44} {:>14.1f} M items/s  {:.1f}x\n", "SPSC ring", ring_rate / 1e6, ring_rate / mutex_rate);
    fmt::print("  {:<44} {:>14.1f} M items/s  1.0x (baseline)\n\n", "mutex + condition variable queue", mutex_rate / 1e6);

    const auto trips = static_cast<std::size_t>(2e5 * options.seconds_per_case);
    const Timing ring_latency = one_way_latency<RingQueue>(trips);
    const Timing mutex_latency = one_way_latency<MutexQueue>(trips / 4);
    fmt::print("one-way latency between two threads (half a round trip; wall clock, so the VM's stalls "
               "show in p99)\n");
    fmt::print("  {:<44} median {:>8.2f} us  p99 {:>8.2f} us  {:.1f}x\n", "SPSC ring", ring_latency.median_ns / 1e3,
               ring_latency.p99_ns / 1e3, mutex_latency.median_ns / ring_latency.median_ns);
    fmt::print("  {:<44} median {:>8.2f} us  p99 {:>8.2f} us  1.0x (baseline)\n\n", "mutex + condition variable queue",
               mutex_latency.median_ns / 1e3, mutex_latency.p99_ns / 1e3);

    // Pipeline overhead: the tiny model stepped directly vs through a one-stage pipeline
    // (virtual call, buffer spans) in the same run; per-call thread CPU time.
    const auto model_path = std::filesystem::path(STATESTREAM_SOURCE_DIR) / "data" / "models" / "tiny_mamba2.safetensors";
    const auto file = models::ModelFile::load(model_path);
    const models::SsmModel model(file);
    auto state = model.make_state();
    models::ModelWorkspace workspace(model, 1);
    std::vector<float> x(model.input_dim(), 0.1f);
    std::vector<float> y(model.output_dim());
    std::vector<std::unique_ptr<engine::Stage>> stages;
    stages.push_back(std::make_unique<engine::ModelStage>(model, 100.0));
    engine::Pipeline pipeline(std::move(stages));
    // The two are timed back to back in every sample, in alternating order, and the overhead
    // is the median of the per-sample differences: this VM's speed drifts by tens of percent
    // over a second, which two separately measured medians would report as overhead.
    constexpr int kStepsPerCall = 1000;  // a step is ~2 us: time a thousand per sample
    const auto time_steps = [&](bool through_pipeline) {
        const double t0 = thread_cpu_ns();
        for (int i = 0; i < kStepsPerCall; ++i) {
            if (through_pipeline) {
                pipeline.step(x, y);
            } else {
                model.step(state, workspace, x, y);
            }
        }
        return (thread_cpu_ns() - t0) / kStepsPerCall;
    };
    std::vector<double> direct, piped, overhead;
    double spent = 0.0;
    for (std::size_t sample = 0; spent < options.seconds_per_case * 1e9 || sample < 20; ++sample) {
        const bool pipeline_first = sample % 2 == 1;
        const double first = time_steps(pipeline_first);
        const double second = time_steps(!pipeline_first);
        const double d = pipeline_first ? second : first;
        const double p = pipeline_first ? first : second;
        direct.push_back(d);
        piped.push_back(p);
        overhead.push_back(p - d);
        spent += (d + p) * kStepsPerCall;
    }
    const auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    fmt::print("pipeline overhead per step beyond the model (tiny model; {} samples of {} steps each, "
               "both timed back to back; thread CPU time)\n", direct.size(), kStepsPerCall);
    fmt::print("  {:<44} {:>8.3f} us per step\n", "model.step() directly", median(direct) / 1e3);
    fmt::print("  {:<44} {:>8.3f} us per step\n", "the same model as a one-stage pipeline", median(piped) / 1e3);
    fmt::print("  {:<44} {:>8.3f} us per step (median of the differences; target <= 1 us)\n", "overhead",
               median(overhead) / 1e3);
    return 0;
}

}  // namespace statestream::bench
