// The real-time worker: every block comes back in order when it keeps up; under overload the
// declared policy sheds blocks, the counts add up, and the delay stays bounded.

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "engine/pipeline.hpp"
#include "engine/realtime_worker.hpp"

using namespace statestream::engine;

namespace {

// Doubles each sample; optionally burns CPU time per step to simulate a model that cannot keep
// up (busy-waits rather than sleeping: the worker must cope with compute, not with blocking).
class DoublingStage final : public StatelessStage {
public:
    explicit DoublingStage(std::chrono::microseconds cost) : cost_(cost) {}
    std::string describe() const override { return "double"; }
    StageShape input() const noexcept override { return {1, 48000.0, 480}; }
    StageShape output() const noexcept override { return {1, 48000.0, 480}; }
    double latency_seconds() const noexcept override { return 0.0; }
    void process(std::span<const float> in, std::span<float> out) noexcept override {
        const auto until = std::chrono::steady_clock::now() + cost_;
        while (std::chrono::steady_clock::now() < until) {
        }
        for (std::size_t i = 0; i < in.size(); ++i) out[i] = 2.0f * in[i];
    }

private:
    std::chrono::microseconds cost_;
};

Pipeline doubling(std::chrono::microseconds cost) {
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::make_unique<DoublingStage>(cost));
    return Pipeline(std::move(stages));
}

}  // namespace

TEST_CASE("A worker that keeps up returns every block, in order", "[engine][worker]") {
    auto pipeline = doubling(std::chrono::microseconds(0));
    RealtimeWorker worker(pipeline, {OverloadPolicy::kDrop, 8, 64});
    worker.start();
    std::vector<float> block(480);
    std::vector<float> out(480);
    std::size_t received = 0;
    bool in_order = true;
    for (int b = 0; b < 2000; ++b) {
        std::fill(block.begin(), block.end(), float(b));
        REQUIRE(worker.push_input(block));
        // Paced like a live source the worker keeps up with: at most 2 blocks in flight.
        while (received + 2 < std::size_t(b) + 1) {
            if (worker.pop_output(out)) {
                in_order &= out[0] == 2.0f * float(received++);
            } else {
                std::this_thread::yield();
            }
        }
    }
    worker.stop();
    while (worker.pop_output(out)) in_order &= out[0] == 2.0f * float(received++);
    const auto c = worker.counters();
    CHECK(in_order);
    CHECK(received == 2000);
    CHECK(c.processed == 2000);
    CHECK(c.dropped + c.passed_through + c.input_overruns + c.output_overruns == 0);
    CHECK(worker.meter().statistics().steps == 2000);
}

TEST_CASE("Under overload, pass-through sheds blocks and the delay stays bounded", "[engine][worker]") {
    // Each step costs 2 ms; blocks arrive as fast as the producer can push: far more than the
    // worker can process. A block with more than 3 others waiting behind it is passed through
    // dry instead of processed, so the worker catches up instead of falling further behind.
    auto pipeline = doubling(std::chrono::microseconds(2000));
    const std::size_t bound = 3;
    RealtimeWorker worker(pipeline, {OverloadPolicy::kPassThrough, bound, 16});
    worker.start();
    std::vector<float> block(480);
    std::vector<float> out(480);
    std::uint64_t returned = 0;
    std::uint64_t dry = 0;
    for (int b = 0; b < 400; ++b) {
        std::fill(block.begin(), block.end(), 1.0f);
        (void)worker.push_input(block);  // may be refused when the ring is full: counted
        while (worker.pop_output(out)) {
            ++returned;
            dry += out[0] == 1.0f ? 1 : 0;  // unprocessed: passed through as it came
        }
    }
    worker.stop();
    while (worker.pop_output(out)) {
        ++returned;
        dry += out[0] == 1.0f ? 1 : 0;
    }
    const auto c = worker.counters();
    INFO("pushed " << c.pushed << ", processed " << c.processed << ", passed through " << c.passed_through
                   << ", input overruns " << c.input_overruns
                   << ", output overruns " << c.output_overruns << ", returned " << returned);
    CHECK(c.passed_through > 0);                          // it was overloaded and said so
    CHECK(c.pushed == c.processed + c.passed_through);    // every accepted block accounted for
    CHECK(c.pushed + c.input_overruns == 400);
    // ... and came back, wet or dry, unless the output ring was full because this thread was
    // descheduled (the VM stalls for milliseconds): then it is counted as an output overrun.
    CHECK(returned + c.output_overruns == c.pushed);
    CHECK(dry <= c.passed_through);
    CHECK(dry + c.output_overruns >= c.passed_through);
}
