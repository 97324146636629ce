#include "engine/pipeline.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/core.h>

namespace statestream::engine {

namespace {
bool same_rate(double a, double b) { return std::abs(a - b) <= 1e-9 * std::max(a, b); }
}  // namespace

Pipeline::Pipeline(std::vector<std::unique_ptr<Stage>> stages) : stages_(std::move(stages)) {
    if (stages_.empty()) throw std::invalid_argument("pipeline: no stages");
    for (std::size_t i = 0; i + 1 < stages_.size(); ++i) {
        const StageShape out = stages_[i]->output();
        const StageShape in = stages_[i + 1]->input();
        const auto mismatch = [&](const std::string& what) {
            return std::invalid_argument(fmt::format("pipeline: stage {} ({}) does not feed stage {} ({}): {}",
                                                     i + 1, stages_[i]->describe(), i + 2,
                                                     stages_[i + 1]->describe(), what));
        };
        if (out.dim != in.dim) {
            throw mismatch(fmt::format("it emits vectors of {} floats, the next takes {}", out.dim, in.dim));
        }
        if (!same_rate(out.rate_hz, in.rate_hz)) {
            throw mismatch(fmt::format("it emits at {} Hz, the next expects {} Hz", out.rate_hz, in.rate_hz));
        }
        if (out.block != in.block) {
            throw mismatch(fmt::format("it emits blocks of {} vectors, the next takes {}", out.block, in.block));
        }
        between_.emplace_back(out.floats(), 0.0f);
    }
    for (const auto& stage : stages_) latency_seconds_ += stage->latency_seconds();
}

std::string Pipeline::describe() const {
    std::string text;
    for (std::size_t i = 0; i < stages_.size(); ++i) {
        const auto& s = *stages_[i];
        text += fmt::format("  {}. {}: {} x {} @ {} Hz -> {} x {} @ {} Hz, latency {:.3f} ms\n", i + 1,
                            s.describe(), s.input().block, s.input().dim, s.input().rate_hz,
                            s.output().block, s.output().dim, s.output().rate_hz,
                            s.latency_seconds() * 1e3);
    }
    text += fmt::format("  total latency {:.3f} ms, step {:.3f} ms\n", latency_seconds_ * 1e3,
                        step_seconds() * 1e3);
    return text;
}

void Pipeline::step(std::span<const float> in, std::span<float> out) noexcept {
    const std::size_t last = stages_.size() - 1;
    std::span<const float> from = in;
    for (std::size_t i = 0; i < last; ++i) {
        stages_[i]->process(from, between_[i]);
        from = between_[i];
    }
    stages_[last]->process(from, out);
}

std::size_t Pipeline::state_floats() const noexcept {
    std::size_t total = 0;
    for (const auto& stage : stages_) total += stage->state_floats();
    return total;
}

void Pipeline::save_state(std::span<float> out) const noexcept {
    for (const auto& stage : stages_) {
        stage->save_state(out.first(stage->state_floats()));
        out = out.subspan(stage->state_floats());
    }
}

void Pipeline::restore_state(std::span<const float> in) noexcept {
    for (const auto& stage : stages_) {
        stage->restore_state(in.first(stage->state_floats()));
        in = in.subspan(stage->state_floats());
    }
}

void Pipeline::reset() noexcept {
    for (const auto& stage : stages_) stage->reset();
}

}  // namespace statestream::engine
