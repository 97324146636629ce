#pragma once
// A whole file through the enhancer: any file libsndfile reads, every channel through its own
// chain (one model, shared), written at the same rate and channel count and aligned with the
// input: the chain's measured delay is cut from the front and flushed from the back, so the
// output has exactly the input's length and sample t of the output is sample t of the input,
// enhanced.

#include <filesystem>

#include "engine/enhancer_chain.hpp"
#include "engine/io/audio_file.hpp"

namespace statestream::engine {

struct EnhanceFileReport {
    AudioFormat format;      // of the input (and so of the output)
    std::uint64_t frames = 0;
    MeasuredDelay delay;     // what was cut from the front
    double process_cpu_seconds = 0.0;  // this thread's CPU time in the chains
};

// Thread: setup/worker (allocates, blocks on the file system). Throws AudioFileError naming
// the file for unreadable, truncated or non-finite input (the output so far stays in
// "<out>.partial"), std::invalid_argument for a model or setting that does not fit.
EnhanceFileReport enhance_file(const models::SsmModel& model, const std::filesystem::path& in,
                               const std::filesystem::path& out, const EnhancerSettings& settings);

}  // namespace statestream::engine
