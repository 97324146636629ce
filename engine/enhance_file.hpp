#pragma once
// A whole file through the enhancer: any file libsndfile reads, every channel through its own
// chain (one model, shared), written at the same rate and channel count and aligned with the
// input: the chain's measured delay is cut from the front and flushed from the back, so the
// output has exactly the input's length and sample t of the output is sample t of the input,
// enhanced.

#include <filesystem>
#include <functional>

#include "engine/enhancer_chain.hpp"
#include "engine/file_run_options.hpp"
#include "engine/io/audio_file.hpp"

namespace statestream::engine {

struct EnhanceFileReport {
    AudioFormat format;      // of the input (and so of the output)
    std::uint64_t frames = 0;
    MeasuredDelay delay;     // what was cut from the front
    double process_cpu_seconds = 0.0;  // this thread's CPU time in the chains
};

// Finds the delay of a file's chain (the config has the file's rate); enhance_file calls it
// once per file. Empty: measure_impulse_delay. A batch passes one that remembers the figure per
// rate, since the impulse costs as much work as a short file.
using ChainDelayMeasure =
    std::function<MeasuredDelay(const models::SsmModel&, const EnhancerChainConfig&)>;

// Thread: setup/worker (allocates, blocks on the file system). The model runs as `run` says
// (step by step, the live chain, by default); the output type follows out's extension. Throws
// AudioFileError naming the file for unreadable, truncated or non-finite input (the output so
// far stays in "<out>.partial"), std::invalid_argument for a model or setting that does not
// fit, FileRunStopped once run.stop is set (checked before each block).
EnhanceFileReport enhance_file(const models::SsmModel& model, const std::filesystem::path& in,
                               const std::filesystem::path& out, const EnhancerSettings& settings,
                               const FileRunOptions& run = {},
                               const ChainDelayMeasure& measure_delay = {});

}  // namespace statestream::engine
