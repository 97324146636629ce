#pragma once
// A pass-through stage that arms the allocation hooks on the thread that runs it, put first in
// a pipeline so the real-time worker's thread (which the test does not own) is armed from its
// first step on.

#include <algorithm>

#include "engine/stage.hpp"
#include "tests/support/allocation_hooks.hpp"

namespace statestream::test {

class ArmWorkerThread final : public engine::StatelessStage {
public:
    explicit ArmWorkerThread(engine::StageShape shape) : shape_(shape) {}
    std::string describe() const override { return "arm the allocation hooks"; }
    engine::StageShape input() const noexcept override { return shape_; }
    engine::StageShape output() const noexcept override { return shape_; }
    double latency_seconds() const noexcept override { return 0.0; }
    void process(std::span<const float> in, std::span<float> out) noexcept override {
        arm_this_thread(true);
        std::copy(in.begin(), in.end(), out.begin());
    }

private:
    engine::StageShape shape_;
};

}  // namespace statestream::test
