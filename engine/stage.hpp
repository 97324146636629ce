#pragma once
// One stage of a pipeline: a fixed block of input vectors in, a fixed block of output vectors
// out, per step. Audio is a stream of 1-dimensional vectors at the sample rate; features and
// model outputs are vectors at the hop rate (100 per second for a 10 ms hop). A pipeline checks
// at construction that each stage's output is the next one's input (dimension, rate, block).

#include <cstddef>
#include <span>
#include <string>

namespace statestream::engine {

struct StageShape {
    std::size_t dim = 1;     // floats per vector
    double rate_hz = 0.0;    // vectors per second
    std::size_t block = 1;   // vectors per step

    [[nodiscard]] std::size_t floats() const noexcept { return dim * block; }
    [[nodiscard]] double step_seconds() const noexcept {
        return static_cast<double>(block) / rate_hz;
    }
};

class Stage {
public:
    virtual ~Stage() = default;

    // Thread: any. What the stage is ("resample 48000->16000 Hz"), for reports and errors.
    [[nodiscard]] virtual std::string describe() const = 0;
    // Thread: any. What a saved state must match to be restored here: the description, plus
    // whatever else decides the meaning of the state (a model stage adds its weights'
    // fingerprint).
    [[nodiscard]] virtual std::string identity() const { return describe(); }
    [[nodiscard]] virtual StageShape input() const noexcept = 0;
    [[nodiscard]] virtual StageShape output() const noexcept = 0;
    // Algorithmic latency, in seconds: how much later an input event leaves this stage than it
    // would through an ideal zero-delay stage.
    [[nodiscard]] virtual double latency_seconds() const noexcept = 0;

    // Thread: real-time. in.size() == input().floats(), out.size() == output().floats().
    // Never allocates, locks, blocks, logs or throws.
    virtual void process(std::span<const float> in, std::span<float> out) noexcept = 0;

    // The stage's stream state as floats (dsp/stateful.hpp's contract), for stream snapshots.
    [[nodiscard]] virtual std::size_t state_floats() const noexcept = 0;
    virtual void save_state(std::span<float> out) const noexcept = 0;
    virtual void restore_state(std::span<const float> in) noexcept = 0;
    // Thread: any. Whether `in` (state_floats() finite floats from outside, e.g. a snapshot)
    // can be restored; a stage whose state holds counts or positions checks them here.
    [[nodiscard]] virtual bool accepts_state(std::span<const float>) const noexcept { return true; }
    virtual void reset() noexcept = 0;
};

// A stage whose output depends on the current block only (a gain, a copy, a head without
// memory): nothing to snapshot.
class StatelessStage : public Stage {
public:
    [[nodiscard]] std::size_t state_floats() const noexcept override { return 0; }
    void save_state(std::span<float>) const noexcept override {}
    void restore_state(std::span<const float>) noexcept override {}
    void reset() noexcept override {}
};

}  // namespace statestream::engine
