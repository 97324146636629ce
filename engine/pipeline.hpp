#pragma once
// A chain of stages run one step at a time: source block -> stage 1 -> ... -> stage n -> sink
// block. Construction checks that every stage's output is the next stage's input (dimension,
// rate and block size) and sums the latencies; all buffers are allocated there, so step() is
// real-time safe if every stage is.

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/stage.hpp"

namespace statestream::engine {

class Pipeline {
public:
    // Thread: setup. Throws std::invalid_argument naming the two stages that do not fit and how.
    explicit Pipeline(std::vector<std::unique_ptr<Stage>> stages);

    [[nodiscard]] StageShape input() const noexcept { return stages_.front()->input(); }
    [[nodiscard]] StageShape output() const noexcept { return stages_.back()->output(); }
    [[nodiscard]] std::size_t size() const noexcept { return stages_.size(); }
    [[nodiscard]] const Stage& stage(std::size_t i) const noexcept { return *stages_[i]; }
    // The sum of the stages' latencies: where an impulse comes out, in seconds.
    [[nodiscard]] double latency_seconds() const noexcept { return latency_seconds_; }
    // One step's duration: the deadline a real-time runner holds each step to.
    [[nodiscard]] double step_seconds() const noexcept { return input().step_seconds(); }
    // Thread: any (allocates). One line per stage with its shapes and latency.
    [[nodiscard]] std::string describe() const;

    // Thread: real-time. in.size() == input().floats(), out.size() == output().floats().
    void step(std::span<const float> in, std::span<float> out) noexcept;

    // Every stage's state, concatenated in stage order (stream_snapshot.hpp names the parts).
    [[nodiscard]] std::size_t state_floats() const noexcept;
    void save_state(std::span<float> out) const noexcept;
    void restore_state(std::span<const float> in) noexcept;
    void reset() noexcept;

private:
    std::vector<std::unique_ptr<Stage>> stages_;
    std::vector<std::vector<float>> between_;  // the output of stage i, for i < n - 1
    double latency_seconds_ = 0.0;
};

}  // namespace statestream::engine
