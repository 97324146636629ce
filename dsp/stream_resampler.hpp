#pragma once
// Streaming sample-rate conversion between any two rates through libsamplerate's band-limited
// sinc converters, with a fixed, exact latency. libsamplerate keeps its outputs index-aligned
// with the input but holds some back until it has enough look-ahead; this wrapper primes an
// output FIFO with exactly that many zeros (measured at construction with a probe instance), so
// every call returns floor(total_in * out/in) - already_returned samples, never fewer, and an
// impulse at input time t leaves at output index t * out/in + latency_samples().

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

typedef struct SRC_STATE_tag SRC_STATE;  // libsamplerate's opaque state, as samplerate.h names it

namespace statestream::dsp {

enum class ResamplerQuality {
    kBest,    // SRC_SINC_BEST_QUALITY: 97 dB SNR, 96 % bandwidth; for offline work
    kMedium,  // SRC_SINC_MEDIUM_QUALITY: 97 dB, 90 %; the live default
    kFastest, // SRC_SINC_FASTEST: 97 dB, 80 %
};

struct ResamplerConfig {
    std::uint32_t input_rate_hz = 48000;
    std::uint32_t output_rate_hz = 16000;
    ResamplerQuality quality = ResamplerQuality::kMedium;
    std::size_t max_input_samples = 4096;  // the largest block process() will be given
};

class StreamResampler {
public:
    // Thread: setup. Rates 1000..768000 Hz. Throws std::invalid_argument naming the bad field,
    // std::runtime_error with libsamplerate's message when it cannot start.
    explicit StreamResampler(const ResamplerConfig& config);
    ~StreamResampler();
    StreamResampler(const StreamResampler&) = delete;
    StreamResampler& operator=(const StreamResampler&) = delete;

    [[nodiscard]] const ResamplerConfig& config() const noexcept { return config_; }
    // Output samples an impulse is delayed by, beyond the ideal t * out/in (output rate).
    [[nodiscard]] std::size_t latency_samples() const noexcept { return latency_; }
    // The most samples process() returns for `input_samples` in (for sizing buffers).
    [[nodiscard]] std::size_t max_output_samples(std::size_t input_samples) const noexcept;

    // Thread: real-time. in.size() <= max_input_samples, out.size() >= max_output_samples(
    // in.size()). Returns how many samples it wrote: floor(total_in * out/in) minus what earlier
    // calls returned, so a fixed hop of input gives a fixed (or evenly alternating) output.
    std::size_t process(std::span<const float> in, std::span<float> out) noexcept;

    // State: the input phase, the outputs libsamplerate still owes, the output FIFO and the last
    // input samples. libsamplerate's own state is opaque, so restore_state() rebuilds it by
    // replaying those input samples from the same phase (its filter only sees that far back)
    // and lines its output up with what the saved one had emitted; see
    // tests/dsp/test_stream_resampler.cpp.
    [[nodiscard]] std::size_t state_floats() const noexcept;
    void save_state(std::span<float> out) const noexcept;
    void restore_state(std::span<const float> in) noexcept;
    // Whether `in` can be a saved state: its phase, owed-output and FIFO counts are whole
    // numbers in their ranges. A snapshot is outside data; restore_state() turns those counts
    // into integers, which for a negative or huge float is undefined behaviour.
    [[nodiscard]] bool accepts_state(std::span<const float> in) const noexcept;
    void reset() noexcept;

private:
    struct Advance {
        std::size_t generated;  // samples libsamplerate wrote to generated_
        std::size_t completed;  // output indices whose input time this input passed
    };
    // Runs `in` through libsamplerate into generated_; advances phase_ and owed_.
    Advance advance(std::span<const float> in) noexcept;
    void push(float sample) noexcept;
    void remember(std::span<const float> in) noexcept;
    void prime() noexcept;                           // empty FIFO + latency_ zeros

    ResamplerConfig config_;
    std::uint64_t up_ = 1;    // output/input = up_/down_, reduced
    std::uint64_t down_ = 1;
    double ratio_ = 1.0;
    SRC_STATE* converter_ = nullptr;
    std::size_t latency_ = 0;

    std::uint64_t phase_ = 0;          // total input samples mod down_
    std::size_t owed_ = 0;             // outputs libsamplerate holds back: ideal - generated
    std::size_t skip_ = 0;             // generated outputs to drop after a replayed restore
    std::vector<float> generated_;     // libsamplerate's output for one call
    std::vector<float> replay_tail_;   // the last outputs of a replay, latency_ + 1 of them
    std::vector<float> fifo_;          // ring
    std::size_t fifo_head_ = 0;
    std::size_t fifo_size_ = 0;
    std::vector<float> history_;       // ring of the last history_.size() input samples
    std::size_t history_head_ = 0;     // where the next input sample goes
    std::size_t replay_base_ = 0;      // replay at least this many samples on restore
};

}  // namespace statestream::dsp
