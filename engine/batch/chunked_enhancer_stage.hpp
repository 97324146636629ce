#pragma once
// The enhancer of engine/linked_enhancer.hpp for files: the same hop maths (STFT, ERB log
// energies, model, sigmoid gains, iSTFT) for one channel, but the model runs once per block of
// hops through SsmModel::forward() instead of once per hop through step(). That is exact
// because nothing the model reads depends on what it returned: the analysis of every hop of a
// block can run first, then one forward() over the block's features, then the gains and the
// synthesis hop by hop. The output equals EnhancerStage's up to forward()'s float rounding
// (tests/engine/test_batch_enhance.cpp).

#include <complex>
#include <cstddef>
#include <vector>

#include "dsp/stft.hpp"
#include "dsp/triangular_filterbank.hpp"
#include "engine/linked_enhancer.hpp"
#include "engine/stage.hpp"
#include "models/ssm_model.hpp"

namespace statestream::engine::batch {

class ChunkedEnhancerStage final : public Stage {
public:
    // Thread: setup. `model` must outlive the stage. Each process() call takes hops_per_block
    // hops at the model's rate and runs the model over all of them in one forward(). Throws
    // std::invalid_argument for a model that is not an enhancer, a bad setting, or 0 hops.
    ChunkedEnhancerStage(const models::SsmModel& model, const EnhancerSettings& settings,
                         std::size_t hops_per_block);

    [[nodiscard]] std::string describe() const override;
    [[nodiscard]] std::string identity() const override;
    [[nodiscard]] StageShape input() const noexcept override { return shape_; }
    [[nodiscard]] StageShape output() const noexcept override { return shape_; }
    // N - H samples, the overlap-add's, as EnhancerStage's.
    [[nodiscard]] double latency_seconds() const noexcept override;
    // Thread: worker. in.size() == out.size() == input().block. Allocates nothing.
    void process(std::span<const float> in, std::span<float> out) noexcept override;

    [[nodiscard]] std::size_t state_floats() const noexcept override;
    void save_state(std::span<float> out) const noexcept override;
    void restore_state(std::span<const float> in) noexcept override;
    void reset() noexcept override;

private:
    const models::SsmModel* model_;
    EnhancerSettings settings_;
    float gain_floor_;
    std::size_t hop_;
    std::size_t hops_;
    StageShape shape_;
    dsp::StftAnalysis analysis_;
    dsp::StftSynthesis synthesis_;
    dsp::TriangularFilterbank bands_;
    models::StreamState state_;
    models::ModelWorkspace workspace_;                // hops_ rows: one forward() per block
    std::vector<std::complex<float>> spectra_;       // {hops, bins}: kept until the gains come
    std::vector<float> features_;                     // {hops, bands}
    std::vector<float> gains_;                        // {hops, bands}
    std::vector<float> power_;                        // {bins}
    std::vector<float> bin_gains_;                    // {bins}
};

}  // namespace statestream::engine::batch
