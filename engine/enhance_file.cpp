#include "engine/enhance_file.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/core.h>

#include "engine/thread_cpu_clock.hpp"

namespace statestream::engine {

namespace {

// Steps every channel's chain over one block of interleaved frames.
class ChannelChains {
public:
    ChannelChains(const models::SsmModel& model, const EnhancerChainConfig& config,
                  std::size_t channels) {
        for (std::size_t c = 0; c < channels; ++c) chains_.push_back(make_enhancer_chain(model, config));
        block_ = chains_.front()->input().block;
        in_.resize(block_);
        out_.resize(block_);
    }
    [[nodiscard]] std::size_t block() const noexcept { return block_; }

    void step(std::span<const float> interleaved_in, std::span<float> interleaved_out) noexcept {
        const std::size_t channels = chains_.size();
        for (std::size_t c = 0; c < channels; ++c) {
            for (std::size_t i = 0; i < block_; ++i) in_[i] = interleaved_in[i * channels + c];
            chains_[c]->step(in_, out_);
            for (std::size_t i = 0; i < block_; ++i) interleaved_out[i * channels + c] = out_[i];
        }
    }

private:
    std::vector<std::unique_ptr<Pipeline>> chains_;
    std::size_t block_ = 0;
    std::vector<float> in_;
    std::vector<float> out_;
};

// Says nothing of the output so far: `statestream enhance` keeps it, a batch removes it.
void require_finite(std::span<const float> interleaved, std::size_t channels,
                    std::uint64_t first_frame, const std::filesystem::path& in) {
    for (std::size_t i = 0; i < interleaved.size(); ++i) {
        if (std::isfinite(interleaved[i])) continue;
        throw AudioFileError(fmt::format("'{}': sample {} of channel {} is {}; fix or cut the input there",
                                         in.string(), first_frame + i / channels, i % channels + 1,
                                         std::isnan(interleaved[i]) ? "NaN" : "infinite"));
    }
}

}  // namespace

EnhanceFileReport enhance_file(const models::SsmModel& model, const std::filesystem::path& in,
                               const std::filesystem::path& out, const EnhancerSettings& settings,
                               const FileRunOptions& run, const ChainDelayMeasure& measure_delay) {
    AudioFileReader reader(in);
    EnhanceFileReport report;
    report.format = reader.format();
    const std::size_t channels = report.format.channels;

    EnhancerChainConfig config;
    config.rate_hz = report.format.rate_hz;
    config.settings = settings;
    config.resampler_quality = dsp::ResamplerQuality::kMedium;
    config.calls = run.calls;
    config.chunk_hops = run.chunk_hops;
    report.delay = measure_delay ? measure_delay(model, config) : measure_impulse_delay(model, config);
    ChannelChains chains(model, config, channels);
    AudioFileWriter writer(out, report.format.rate_hz, report.format.channels,
                           audio_file_type_for(out));

    const std::size_t block = chains.block();
    std::vector<float> input(block * channels);
    std::vector<float> output(block * channels);
    std::uint64_t to_skip = report.delay.samples;  // frames of the chain's delay still to cut
    std::uint64_t written = 0;
    bool input_ended = false;
    while (!input_ended || written < report.frames) {
        if (stop_requested(run)) throw FileRunStopped();
        std::size_t got = 0;
        if (!input_ended) {
            got = reader.read_frames(input);
            require_finite(std::span<const float>(input).first(got * channels), channels,
                           report.frames, in);
            report.frames += got;
            input_ended = got < block;
        }
        std::fill(input.begin() + static_cast<std::ptrdiff_t>(got * channels), input.end(), 0.0f);
        const double cpu0 = thread_cpu_seconds();
        chains.step(input, output);
        report.process_cpu_seconds += thread_cpu_seconds() - cpu0;

        const std::uint64_t skip = std::min<std::uint64_t>(to_skip, block);
        to_skip -= skip;
        const std::uint64_t keep = std::min<std::uint64_t>(block - skip, input_ended ? report.frames - written
                                                                                     : block - skip);
        writer.write(std::span<const float>(output).subspan(skip * channels, keep * channels));
        written += keep;
    }
    writer.commit();
    return report;
}

}  // namespace statestream::engine
