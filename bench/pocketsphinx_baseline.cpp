#include "bench/pocketsphinx_baseline.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <vector>

#include <fmt/core.h>

#include "bench/timing.hpp"
#include "dsp/stream_resampler.hpp"

#if STATESTREAM_HAVE_POCKETSPHINX
#include <pocketsphinx.h>
#endif

namespace statestream::bench {

#if STATESTREAM_HAVE_POCKETSPHINX

namespace {

constexpr std::uint32_t kPocketsphinxRateHz = 16000;  // its en-us acoustic model's rate
constexpr std::size_t kChunkSamples = 160;            // 10 ms at 16 kHz, one live block
constexpr std::size_t kResampleBlock = 4096;

// The input as 16-bit samples at 16 kHz, as pocketsphinx takes them. A resampled input is
// flushed with 100 ms of silence, its delay cut, and cut to the input's length, so both
// decoders hear the same audio.
std::vector<int16> pcm16k_of(std::span<const float> samples, std::uint32_t rate_hz) {
    std::vector<float> audio16(samples.begin(), samples.end());
    if (rate_hz != kPocketsphinxRateHz) {
        dsp::StreamResampler resampler({rate_hz, kPocketsphinxRateHz, dsp::ResamplerQuality::kBest, kResampleBlock});
        std::vector<float> out(resampler.max_output_samples(kResampleBlock));
        audio16.clear();
        std::vector<float> padded(samples.begin(), samples.end());
        padded.resize(padded.size() + rate_hz / 10, 0.0f);
        for (std::size_t at = 0; at < padded.size(); at += kResampleBlock) {
            const std::size_t n = std::min(kResampleBlock, padded.size() - at);
            const std::size_t made = resampler.process(std::span<const float>(padded).subspan(at, n), out);
            audio16.insert(audio16.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(made));
        }
        audio16.erase(audio16.begin(), audio16.begin() + static_cast<std::ptrdiff_t>(resampler.latency_samples()));
        audio16.resize(samples.size() * kPocketsphinxRateHz / rate_hz);
    }
    std::vector<int16> pcm(audio16.size());
    for (std::size_t i = 0; i < pcm.size(); ++i) {
        pcm[i] = static_cast<int16>(std::lround(std::clamp(audio16[i], -1.0f, 32767.0f / 32768.0f) * 32768.0f));
    }
    return pcm;
}

}  // namespace

PocketsphinxResult time_pocketsphinx(std::span<const float> samples, std::uint32_t rate_hz, double seconds) {
    PocketsphinxResult result;
    result.name = "pocketsphinx 5prealpha, en-us, default LM";
    const std::filesystem::path dir = std::filesystem::path(STATESTREAM_POCKETSPHINX_MODEL_DIR) / "en-us";
    const auto hmm = (dir / "en-us").string(), lm = (dir / "en-us.lm.bin").string(),
               dict = (dir / "cmudict-en-us.dict").string();
    if (!std::filesystem::is_directory(hmm)) {
        result.why_not = fmt::format("{}: pocketsphinx's en-us model is missing; install the Debian "
                                     "package pocketsphinx-en-us", hmm);
        return result;
    }
    const std::vector<int16> pcm = pcm16k_of(samples, rate_hz);  // outside the timing
    cmd_ln_t* config = cmd_ln_init(nullptr, ps_args(), TRUE, "-hmm", hmm.c_str(), "-lm", lm.c_str(),
                                   "-dict", dict.c_str(), "-logfn", "/dev/null",
                                   static_cast<const char*>(nullptr));
    ps_decoder_t* decoder = config ? ps_init(config) : nullptr;
    if (decoder == nullptr) {
        result.why_not = fmt::format("pocketsphinx could not load its model from {}", dir.string());
        if (config) cmd_ln_free_r(config);
        return result;
    }
    double spent = 0.0;
    do {
        const double start = thread_cpu_ns();
        ps_start_utt(decoder);
        for (std::size_t at = 0; at < pcm.size(); at += kChunkSamples) {
            const std::size_t n = std::min(kChunkSamples, pcm.size() - at);
            const double t0 = thread_cpu_ns();
            ps_process_raw(decoder, pcm.data() + at, n, FALSE, FALSE);
            result.chunk.add(thread_cpu_ns() - t0);
        }
        const double t0 = thread_cpu_ns();
        ps_end_utt(decoder);
        result.end_utt.add(thread_cpu_ns() - t0);
        const double pass = thread_cpu_ns() - start;
        int32 score = 0;
        const char* hypothesis = ps_get_hyp(decoder, &score);
        result.hypothesis = hypothesis ? hypothesis : "";
        spent += pass;
        result.cpu_seconds += pass * 1e-9;
        result.audio_seconds += static_cast<double>(pcm.size()) / kPocketsphinxRateHz;
    } while (spent < seconds * 1e9);
    ps_free(decoder);
    cmd_ln_free_r(config);
    result.chunk.finish();
    result.end_utt.finish();
    result.ran = true;
    return result;
}

#else

PocketsphinxResult time_pocketsphinx(std::span<const float>, std::uint32_t, double) {
    PocketsphinxResult result;
    result.why_not = "pocketsphinx was not found at build time: install libpocketsphinx-dev and "
                     "pocketsphinx-en-us (scripts/setup.sh) and rebuild for the baseline";
    return result;
}

#endif

}  // namespace statestream::bench
