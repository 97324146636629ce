// process() of every dsp block allocates nothing: each runs many hops on a thread whose
// allocator calls are counted (tests/support/allocation_hooks). Release tree (label host).

#include <catch2/catch.hpp>

#include <complex>
#include <vector>

#include "dsp/delta_features.hpp"
#include "dsp/log_mel_frontend.hpp"
#include "dsp/running_normaliser.hpp"
#include "dsp/stft.hpp"
#include "dsp/stream_resampler.hpp"
#include "dsp/triangular_filterbank.hpp"
#include "tests/support/allocation_hooks.hpp"

using namespace statestream::dsp;
using statestream::test::ArmAllocationHooks;
using statestream::test::armed_allocator_calls;

TEST_CASE("The hooks count an allocation on an armed thread", "[dsp][rt]") {
    const auto before = armed_allocator_calls();
    {
        ArmAllocationHooks armed;
        std::vector<float> grows;
        grows.resize(1000);
    }
    CHECK(armed_allocator_calls() >= before + 2);  // the allocation and its release
}

TEST_CASE("dsp process() calls never allocate", "[dsp][rt]") {
    // Setup: everything allocated here, as a real-time stage would before it starts.
    StftConfig config;
    config.window = WindowShape::kVorbis;
    config.window_samples = 960;
    config.hop_samples = 480;
    StftAnalysis analysis(config);
    StftSynthesis synthesis(config);
    const auto erb = erb_filterbank(48000.0, 960, 64);
    LogMelFrontend log_mel({16000.0, 400, 160, 40});
    StreamResampler down({48000, 16000, ResamplerQuality::kMedium, 480});
    StreamResampler up({16000, 48000, ResamplerQuality::kMedium, 160});
    DeltaFeatures deltas(40);
    RunningNormaliser normaliser({40, 100.0, 1e-4});
    std::vector<float> hop48(480, 0.1f);
    std::vector<float> hop16(down.max_output_samples(480));
    std::vector<float> back48(up.max_output_samples(160));
    std::vector<std::complex<float>> spectrum(analysis.bins());
    std::vector<float> power(analysis.bins());
    std::vector<float> bands(64);
    std::vector<float> bin_gains(analysis.bins());
    std::vector<float> gains(64, 0.7f);
    std::vector<float> out48(480);
    std::vector<float> mel(40);
    std::vector<float> delta(40);
    std::vector<float> normalised(40);
    std::vector<float> saved_resampler(down.state_floats());

    const auto before = armed_allocator_calls();
    {
        ArmAllocationHooks armed;
        for (int hop = 0; hop < 500; ++hop) {
            hop48[static_cast<std::size_t>(hop) % 480] = 0.9f;
            analysis.process(hop48, spectrum);
            power_spectrum(spectrum, power);
            erb.band_energies(power, bands);
            erb.interpolate(gains, bin_gains);
            apply_bin_gains(bin_gains, spectrum);
            synthesis.process(spectrum, out48);
            const std::size_t n16 = down.process(hop48, hop16);
            log_mel.process(std::span<const float>(hop16).first(160), mel);
            deltas.process(mel, delta);
            normaliser.process(mel, 1.0, normalised);
            (void)up.process(std::span<const float>(hop16).first(n16), back48);
        }
        down.save_state(saved_resampler);
        down.restore_state(saved_resampler);
        down.reset();
    }
    CHECK(armed_allocator_calls() - before == 0);
}
