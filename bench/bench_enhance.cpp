#include "bench/bench_enhance.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include <fmt/core.h>

#include "bench/step_statistics.hpp"
#include "bench/timing.hpp"
#include "engine/enhancer_chain.hpp"
#include "engine/stages/enhancer_stage.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"

#if STATESTREAM_HAVE_SPEEXDSP
#include <speex/speex_preprocess.h>
#endif

namespace statestream::bench {

namespace {

constexpr double kHopSeconds = 0.010;

// Ten seconds of a voiced-like harmonic series with a syllable envelope in white noise at 5 dB:
// the enhancer's and speexdsp's work does not depend on the content, but a realistic signal
// keeps both away from special cases (digital silence, denormals).
std::vector<float> noisy_speech_like(std::uint32_t rate_hz) {
    const std::size_t n = 10 * rate_hz;
    std::vector<float> audio(n);
    std::mt19937 generator(1);
    std::normal_distribution<float> noise(0.0f, 0.03f);
    double phase = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        const double t = static_cast<double>(i) / rate_hz;
        phase += 2.0 * M_PI * (130.0 + 25.0 * std::sin(2.0 * M_PI * 2.5 * t)) / rate_hz;
        double voiced = 0.0;
        for (int k = 1; k <= 20; ++k) voiced += std::sin(k * phase) / k;
        const double envelope = 0.5 * (1.0 - std::cos(2.0 * M_PI * 3.0 * t));
        audio[i] = static_cast<float>(0.05 * envelope * voiced) + noise(generator);
    }
    return audio;
}

// Calls process(hop index) over and over (wrapping around the audio) for `seconds` of CPU time
// after a warm-up second, timing each call in thread CPU time.
StepStatistics time_hops(const std::function<void(std::size_t)>& process, std::size_t hops_in_audio,
                         double seconds) {
    for (std::size_t i = 0; i < 100; ++i) process(i % hops_in_audio);
    StepStatistics times;
    double spent = 0.0;
    for (std::size_t i = 0; spent < seconds * 1e9 || times.count() < 200; ++i) {
        const double t0 = thread_cpu_ns();
        process(i % hops_in_audio);
        const double dt = thread_cpu_ns() - t0;
        times.add(dt);
        spent += dt;
    }
    times.finish();
    return times;
}

void print_row(const char* name, const StepStatistics& times, double baseline_mean_ns) {
    const double realtime = kHopSeconds * 1e9 / times.mean_ns();
    const std::string versus =
        baseline_mean_ns > 0.0 ? fmt::format("{:.2f}x", times.mean_ns() / baseline_mean_ns) : "-";
    fmt::print("| {:<42} | {:>7.1f} | {:>7.1f} | {:>7.1f} | {:>7.1f} | {:>7.1f} | {:>8.0f}x | {:>11} |\n",
               name, times.mean_ns() / 1e3, times.quantile_ns(0.5) / 1e3, times.quantile_ns(0.9) / 1e3,
               times.quantile_ns(0.99) / 1e3, times.max_ns() / 1e3, realtime, versus);
}

#if STATESTREAM_HAVE_SPEEXDSP
// speexdsp's preprocessor with only the denoiser on, at its default -15 dB, as the quality
// script runs it: one 10 ms frame of 16-bit samples per call, in place.
StepStatistics time_speexdsp(const std::vector<float>& audio, std::uint32_t rate_hz, double seconds) {
    const int frame = static_cast<int>(rate_hz / 100);
    SpeexPreprocessState* state = speex_preprocess_state_init(frame, static_cast<int>(rate_hz));
    int on = 1;
    int suppress_db = -15;
    speex_preprocess_ctl(state, SPEEX_PREPROCESS_SET_DENOISE, &on);
    speex_preprocess_ctl(state, SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, &suppress_db);
    std::vector<spx_int16_t> pcm(audio.size());
    for (std::size_t i = 0; i < audio.size(); ++i) {
        pcm[i] = static_cast<spx_int16_t>(std::clamp(audio[i], -1.0f, 1.0f) * 32767.0f);
    }
    std::vector<spx_int16_t> work(static_cast<std::size_t>(frame));
    const std::size_t hops = audio.size() / static_cast<std::size_t>(frame);
    const StepStatistics times = time_hops(
        [&](std::size_t hop) {
            std::copy_n(pcm.begin() + static_cast<std::ptrdiff_t>(hop * frame), frame, work.begin());
            speex_preprocess_run(state, work.data());
        },
        hops, seconds);
    speex_preprocess_state_destroy(state);
    return times;
}
#endif

}  // namespace

int run_enhance_bench(const EnhanceBenchOptions& options) {
    pin_to_current_core();
    const models::ModelFile file = models::ModelFile::load(options.model_path);
    const models::SsmModel model(file);
    engine::require_enhancer_model(model);
    const auto& frontend = file.description().frontend;
    fmt::print("enhancer: {} ({} parameters, {} layers, d_model {}), {} Hz, hop {} samples\n",
               options.model_path, file.parameter_count(), model.architecture().layers.size(),
               model.architecture().d_model, frontend.sample_rate_hz, frontend.hop_samples);
    fmt::print("one thread pinned to one core; CPU time per 10 ms hop (thread CPU clock, so the "
               "VM's scheduling stalls are not counted as ours), {:.1f} s of CPU per case\n\n",
               options.seconds_per_case);
    fmt::print("| {:<42} | {:>7} | {:>7} | {:>7} | {:>7} | {:>7} | {:>9} | {:>11} |\n", "per 10 ms hop",
               "mean us", "p50 us", "p90 us", "p99 us", "max us", "real time", "vs speexdsp");
    fmt::print("|{:-<44}|{:->9}|{:->9}|{:->9}|{:->9}|{:->9}|{:->11}|{:->13}|\n", "", "", "", "", "", "", "", "");

    for (const std::uint32_t rate : {48000u, 16000u}) {
        const std::vector<float> audio = noisy_speech_like(rate);
        double speex_mean = 0.0;
#if STATESTREAM_HAVE_SPEEXDSP
        const StepStatistics speex = time_speexdsp(audio, rate, options.seconds_per_case);
        speex_mean = speex.mean_ns();
        print_row(fmt::format("speexdsp denoise -15 dB, {} kHz", rate / 1000).c_str(), speex, speex_mean);
#endif
        engine::EnhancerChainConfig config;
        config.rate_hz = rate;
        const auto chain = engine::make_enhancer_chain(model, config);
        const std::size_t block = chain->input().block;
        std::vector<float> out(block);
        const StepStatistics enhancer = time_hops(
            [&](std::size_t hop) {
                chain->step(std::span<const float>(audio).subspan(hop * block, block), out);
            },
            audio.size() / block, options.seconds_per_case);
        print_row(fmt::format("enhancer chain, {} kHz{}", rate / 1000,
                              rate == frontend.sample_rate_hz ? "" : " (resampled to 48k)")
                      .c_str(),
                  enhancer, speex_mean);

        if (rate == frontend.sample_rate_hz) {
            // The model's share: its step alone on the features of the same audio.
            models::StreamState state = model.make_state();
            models::ModelWorkspace workspace(model, 1);
            std::vector<float> features(model.input_dim(), -5.0f);
            std::vector<float> gains(model.output_dim());
            const StepStatistics step = time_hops(
                [&](std::size_t) { model.step(state, workspace, features, gains); }, 1,
                options.seconds_per_case);
            print_row("  of which the model step", step, speex_mean);
        }
    }
#if !STATESTREAM_HAVE_SPEEXDSP
    fmt::print("\n(speexdsp was not found at build time: install libspeexdsp-dev for the baseline)\n");
#endif
    return 0;
}

}  // namespace statestream::bench
