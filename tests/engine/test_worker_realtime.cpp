// The real-time path of a live pipeline allocates nothing and takes no lock: the producer side
// (as an audio callback would call it) and the worker thread running resample -> log-mel ->
// tiny model are armed with the allocation and lock hooks (tests/support/allocation_hooks).
// Release tree (label host).

#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "engine/pipeline.hpp"
#include "engine/realtime_worker.hpp"
#include "engine/stages/log_mel_stage.hpp"
#include "engine/stages/model_stage.hpp"
#include "engine/stages/resample_stage.hpp"
#include "tests/support/allocation_hooks.hpp"
#include "tests/support/arming_stage.hpp"

using namespace statestream::engine;
using statestream::test::armed_allocator_calls;
using statestream::test::armed_lock_calls;
using statestream::test::ArmWorkerThread;


TEST_CASE("The hooks count a mutex lock on an armed thread", "[engine][rt]") {
    std::mutex mutex;
    const auto before = armed_lock_calls();
    statestream::test::arm_this_thread(true);
    { const std::lock_guard lock(mutex); }
    statestream::test::arm_this_thread(false);
    CHECK(armed_lock_calls() == before + 1);
}

TEST_CASE("A live pipeline's real-time path neither allocates nor locks", "[engine][rt]") {
    const auto file = statestream::models::ModelFile::load(
        std::filesystem::path(STATESTREAM_DATA_DIR) / "models" / "tiny_mamba2.safetensors");
    const statestream::models::SsmModel model(file);
    std::vector<std::unique_ptr<Stage>> stages;
    stages.push_back(std::make_unique<ArmWorkerThread>(StageShape{1, 48000.0, 480}));
    stages.push_back(std::make_unique<ResampleStage>(48000, 16000, 480));
    stages.push_back(std::make_unique<LogMelStage>(statestream::dsp::LogMelConfig{16000.0, 400, 160, 8}));
    stages.push_back(std::make_unique<ModelStage>(model, 100.0));
    Pipeline pipeline(std::move(stages));
    RealtimeWorker worker(pipeline, {OverloadPolicy::kDrop, 1000, 64});
    worker.start();

    std::vector<float> block(480, 0.05f);
    std::vector<float> out(pipeline.output().floats());
    const auto allocations_before = armed_allocator_calls();
    const auto locks_before = armed_lock_calls();
    std::size_t returned = 0;
    for (int b = 0; b < 500; ++b) {
        block[static_cast<std::size_t>(b) % 480] = 0.5f;
        statestream::test::arm_this_thread(true);  // the producer's calls, as from a callback
        const bool pushed = worker.push_input(block);
        while (worker.pop_output(out)) ++returned;
        statestream::test::arm_this_thread(false);
        if (!pushed) std::this_thread::yield();
        while (returned + 8 < std::size_t(b)) {  // pace: stay within the worker's reach
            statestream::test::arm_this_thread(true);
            if (worker.pop_output(out)) ++returned;
            statestream::test::arm_this_thread(false);
            std::this_thread::yield();
        }
    }
    // Read the counts while the worker thread is still alive: its exit frees thread-local
    // storage, which is the thread library's business, not the real-time path's.
    for (auto c = worker.counters(); c.processed + c.dropped < c.pushed; c = worker.counters()) {
        std::this_thread::yield();
    }
    const auto allocations = armed_allocator_calls() - allocations_before;
    const auto locks = armed_lock_calls() - locks_before;
    worker.stop();
    const auto c = worker.counters();
    INFO("pushed " << c.pushed << ", processed " << c.processed << ", returned " << returned);
    CHECK(c.processed >= 490);
    CHECK(allocations == 0);
    CHECK(locks == 0);
}
