#pragma once
// One forecasting stream's whole state as a safetensors file in the state directory, so that a
// stream evicted, or a process restarted, resumes bit for bit:
//
//   __metadata__: "statestream_forecast_state": "1"     format and version this build writes/reads
//                 "model_fingerprint": "0123..."         ModelFile::fingerprint() of the model
//                 "model_name", "model_source"           for messages only: the fingerprint decides
//                 "stream_id": "AAPL"                    the stream it belongs to
//   "model":    F32 [state_floats]       the model's StreamState::values
//   "features": F32 [features floats]    TickFeatures::save_state() (ring NaNs kept as is)
//   "readout":  F32 [readout floats]     QuantileReadout::save_state()
//
// Floats are copied, never converted. A file of another format version, model, or stream is
// refused by name (ForecastStateError), as is any container defect.

#include <cstddef>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "models/ssm_model.hpp"

namespace statestream::engine::forecast {

inline constexpr int kForecastStateFormatVersion = 1;

// The message starts with the file (or the name given to in-memory bytes) and says what is
// wrong and what to do.
class ForecastStateError : public std::runtime_error {
public:
    ForecastStateError(const std::string& source, const std::string& problem)
        : std::runtime_error(source + ": " + problem) {}
};

// One stream's state, as floats in the three parts' own layouts.
struct ForecastStateParts {
    std::span<const float> model;
    std::span<const float> features;
    std::span<const float> readout;
};

// Thread: worker (allocates). The snapshot bytes of one stream. Throws ForecastStateError when
// the model state holds a non-finite value (a diverged stream: restoring would refuse it).
[[nodiscard]] std::vector<std::byte> encode_forecast_state(const models::SsmModel& model,
                                                           std::string_view stream_id,
                                                           const ForecastStateParts& parts);

// Thread: worker (file I/O). Writes `bytes` to a temporary file beside `path`, flushes it and
// renames it over `path`, so a crash leaves the old snapshot or the new one, never half of one.
// Throws ForecastStateError naming the path and the system's reason; the temporary is removed.
void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes);

// Thread: worker (allocates, reads the file). Checks a snapshot of `stream_id` for `model` and
// copies its three parts into model_state, features and readout, whose sizes are the parts'
// sizes the caller expects. Throws ForecastStateError naming the file when it is unreadable,
// of another format version, model or stream, of other sizes, or has a non-finite model state;
// the outputs are then unspecified.
void read_forecast_state_file(const models::SsmModel& model, std::string_view stream_id,
                              const std::filesystem::path& path, std::span<float> model_state,
                              std::span<float> features, std::span<float> readout);

}  // namespace statestream::engine::forecast
