#pragma once
// A stream's whole state as one versioned blob: every stage of its pipeline (framing tails,
// resampler history, normalisers, the model's recurrent state, decoders), so a live stream can
// stop and resume elsewhere bit for bit. The blob is a safetensors file:
//
//   __metadata__: "statestream_stream": "1"             format and version
//                 "stages": "3"
//                 "stage.0": "resample 48000->16000 Hz" each stage's identity (Stage::identity():
//                 ...                                    for a model stage, the model fingerprint)
//   "stage.0": F32 [state floats of stage 0]   ... one tensor per stage with state
//
// Restoring into a pipeline whose stages differ in identity or state size is refused by name.

#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/pipeline.hpp"

namespace statestream::engine {

inline constexpr int kStreamSnapshotFormatVersion = 1;

class StreamSnapshotError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Thread: setup or worker (allocates). The snapshot bytes of the pipeline's current state.
[[nodiscard]] std::vector<std::byte> save_stream(const Pipeline& pipeline);

// Thread: setup or worker (allocates). Restores every stage from `bytes`; throws
// StreamSnapshotError starting with `source` when the bytes are not a stream snapshot of this
// build's version, were saved from another pipeline (naming the first stage that differs), or
// hold a non-finite value. Nothing is restored unless everything checks out.
void restore_stream(Pipeline& pipeline, std::span<const std::byte> bytes, const std::string& source);

}  // namespace statestream::engine
