#pragma once
// The recogniser's baseline in `statestream bench transcribe`: pocketsphinx (its en-us acoustic
// model, default US English LM and CMU dictionary, every other setting its default, as
// models/train/asr/pocketsphinx_baseline.py runs it) decoding the same audio, fed at 16 kHz in
// 10 ms chunks as a live decoder would be. Built in when CMake found libpocketsphinx-dev
// (bench/CMakeLists.txt); without it the result says why it did not run.

#include <cstdint>
#include <span>
#include <string>

#include "bench/step_statistics.hpp"

namespace statestream::bench {

struct PocketsphinxResult {
    bool ran = false;
    std::string name;        // the decoder and its models, for the table
    std::string why_not;     // when it did not run: the cause and the fix
    std::string hypothesis;  // the last pass's text
    StepStatistics chunk;    // ps_process_raw of 10 ms
    StepStatistics end_utt;  // ps_end_utt per pass (the final search passes)
    double cpu_seconds = 0.0, audio_seconds = 0.0;
    [[nodiscard]] double rtf() const { return cpu_seconds / audio_seconds; }
};

// Thread: the bench's (pinned; its CPU time is what is measured). samples: mono at rate_hz,
// resampled to 16 kHz outside the timing when needed. Decodes the whole input, timing every
// call, until `seconds` of CPU; at least one pass.
[[nodiscard]] PocketsphinxResult time_pocketsphinx(std::span<const float> samples, std::uint32_t rate_hz,
                                                   double seconds);

}  // namespace statestream::bench
