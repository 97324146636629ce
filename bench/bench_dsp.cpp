#include "bench/bench_dsp.hpp"

#include <complex>
#include <random>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "bench/timing.hpp"
#include "dsp/log_compress.hpp"
#include "dsp/log_mel_frontend.hpp"
#include "dsp/stft.hpp"
#include "dsp/stream_resampler.hpp"
#include "dsp/triangular_filterbank.hpp"

namespace statestream::bench {

namespace {

using dsp::FftPlanning;
using dsp::StftAnalysis;
using dsp::StftConfig;
using dsp::StftSynthesis;

constexpr std::size_t kRate = 48000;
constexpr std::size_t kHop = 480;     // 10 ms
constexpr std::size_t kWindow = 960;  // 20 ms
constexpr std::size_t kBands = 64;
constexpr double kHopUs = 10000.0;

StftConfig enhancer_stft(FftPlanning planning) {
    StftConfig config;
    config.window = dsp::WindowShape::kVorbis;
    config.window_samples = kWindow;
    config.hop_samples = kHop;
    config.planning = planning;
    return config;
}

// The enhancer's per-hop chain: STFT, 64 ERB band energies and their logs (the model's input),
// band gains interpolated onto the bins and applied (the model's output), iSTFT.
struct EnhancerChain {
    explicit EnhancerChain(FftPlanning planning)
        : analysis(enhancer_stft(planning)),
          synthesis(enhancer_stft(planning)),
          erb(dsp::erb_filterbank(kRate, kWindow, kBands)),
          spectrum(analysis.bins()),
          power(analysis.bins()),
          bands(kBands),
          bin_gains(analysis.bins()),
          gains(kBands, 0.6f),
          out(kHop) {}

    void run(std::span<const float> hop, StftAnalysis& a, StftSynthesis& s) {
        a.process(hop, spectrum);
        dsp::power_spectrum(spectrum, power);
        erb.band_energies(power, bands);
        dsp::log_compress(bands, bands);
        erb.interpolate(gains, bin_gains);
        dsp::apply_bin_gains(bin_gains, spectrum);
        s.process(spectrum, out);
    }
    void run(std::span<const float> hop) { run(hop, analysis, synthesis); }

    StftAnalysis analysis;
    StftSynthesis synthesis;
    dsp::TriangularFilterbank erb;
    std::vector<std::complex<float>> spectrum;
    std::vector<float> power, bands, bin_gains, gains, out;
};

void row(const std::string& name, const Timing& t, const std::string& baseline) {
    fmt::print("  {:<58} {:>9.2f} {:>9.2f} {:>8.2f}%  {}\n", name, t.median_ns / 1e3,
               t.p99_ns / 1e3, 100.0 * t.median_ns / 1e3 / kHopUs, baseline);
}

}  // namespace

int run_dsp_bench(const DspBenchOptions& options) {
    const double seconds = options.seconds_per_case;
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 0.1f);
    std::vector<float> audio(kRate);  // one second, cycled hop by hop
    for (auto& v : audio) v = normal(rng);
    std::size_t at = 0;
    const auto next_hop = [&]() {
        const std::span<const float> hop(audio.data() + at, kHop);
        at = (at + kHop) % (audio.size() - kHop);
        return hop;
    };

    fmt::print("statestream bench dsp: one core; per-hop CPU time of this thread, median and p99 "
               "(CPU time leaves out the VM's scheduling stalls)\n");
    fmt::print("48 kHz, hop 480 (10 ms), vorbis window 960, 64 ERB bands\n\n");
    fmt::print("  {:<58} {:>9} {:>9} {:>9}  {}\n", "case", "median us", "p99 us", "of 10 ms",
               "vs baseline");

    EnhancerChain measured(FftPlanning::kMeasure);
    const Timing chain = measure([&] { measured.run(next_hop()); }, seconds);

    // Baseline: the same chain, but the FFTW plans (and the STFT objects around them) are made
    // for every hop with FFTW_ESTIMATE, state carried across by snapshot.
    EnhancerChain per_call(FftPlanning::kEstimate);
    std::vector<float> analysis_state(per_call.analysis.state_floats());
    std::vector<float> synthesis_state(per_call.synthesis.state_floats());
    const Timing planned_per_call = measure(
        [&] {
            StftAnalysis a(enhancer_stft(FftPlanning::kEstimate));
            StftSynthesis s(enhancer_stft(FftPlanning::kEstimate));
            a.restore_state(analysis_state);
            s.restore_state(synthesis_state);
            per_call.run(next_hop(), a, s);
            a.save_state(analysis_state);
            s.save_state(synthesis_state);
        },
        seconds);
    EnhancerChain estimated(FftPlanning::kEstimate);
    const Timing chain_estimate = measure([&] { estimated.run(next_hop()); }, seconds);

    row("STFT + 64 ERB + log + gains + iSTFT (plans at construction)", chain,
        fmt::format("{:.1f}x faster than plans per call", planned_per_call.median_ns / chain.median_ns));
    row("  same, FFTW_ESTIMATE plans at construction", chain_estimate,
        fmt::format("MEASURE plans {:.2f}x faster", chain_estimate.median_ns / chain.median_ns));
    row("  baseline: same chain, FFTW_ESTIMATE plans made per call", planned_per_call, "1.00x");

    // Parts of the chain, to show where the time goes.
    EnhancerChain parts(FftPlanning::kMeasure);
    const Timing stft = measure([&] { parts.analysis.process(next_hop(), parts.spectrum); }, seconds);
    const Timing bands = measure(
        [&] {
            dsp::power_spectrum(parts.spectrum, parts.power);
            parts.erb.band_energies(parts.power, parts.bands);
            dsp::log_compress(parts.bands, parts.bands);
        },
        seconds);
    const Timing gains = measure(
        [&] {
            parts.erb.interpolate(parts.gains, parts.bin_gains);
            dsp::apply_bin_gains(parts.bin_gains, parts.spectrum);
        },
        seconds);
    const Timing istft = measure([&] { parts.synthesis.process(parts.spectrum, parts.out); }, seconds);
    row("  part: STFT (window + r2c)", stft, "");
    row("  part: power + 64 ERB energies + log", bands, "");
    row("  part: gains onto 481 bins", gains, "");
    row("  part: iSTFT (c2r + window + overlap-add)", istft, "");

    fmt::print("\nspeech front-end, per 10 ms of 48 kHz input\n");
    dsp::StreamResampler down({48000, 16000, dsp::ResamplerQuality::kMedium, kHop});
    dsp::StreamResampler down_best({48000, 16000, dsp::ResamplerQuality::kBest, kHop});
    dsp::LogMelFrontend log_mel({16000.0, 400, 160, 40});
    std::vector<float> at16(down.max_output_samples(kHop));
    std::vector<float> mel(40);
    const Timing resample = measure([&] { (void)down.process(next_hop(), at16); }, seconds);
    const Timing resample_best = measure([&] { (void)down_best.process(next_hop(), at16); }, seconds);
    const Timing features = measure(
        [&] { log_mel.process(std::span<const float>(at16).first(160), mel); }, seconds);
    row(fmt::format("resample 48 -> 16 kHz, medium sinc (latency {} samples)", down.latency_samples()),
        resample, "");
    row(fmt::format("resample 48 -> 16 kHz, best sinc (latency {} samples)", down_best.latency_samples()),
        resample_best, fmt::format("{:.1f}x medium", resample_best.median_ns / resample.median_ns));
    row("log-mel 40 bands at 16 kHz (hann 400, F 512)", features, "");
    return 0;
}

}  // namespace statestream::bench
