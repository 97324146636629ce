#pragma once
// Per-stream state snapshots: one stream's whole recurrent state (StreamState) written as a
// small safetensors file, so a stream can pause on one process or machine and resume on
// another, bit for bit, and the hardened container parser (safetensors_file.hpp) reads it back.
//
//   __metadata__: "statestream_state": "1"          format and version this build writes/reads
//                 "model_fingerprint": "0123..."    ModelFile::fingerprint() of the model
//                 "model_name": "tiny-random"       recipe name   } for messages only: the
//                 "model_source": "tiny.safetensors" file name    } fingerprint decides
//   "state": F32 [state_floats]                      StreamState::values, little-endian, as is
//
// A state belongs to the exact weights that produced it: restoring refuses a snapshot whose
// fingerprint is not the model's, as well as any other defect (docs/model_format.md, "State
// snapshots"), with one StateSnapshotError. Floats are copied, never converted, so
// restore(save(s)) == s bit for bit and the resumed stream's outputs are bit-identical.
//
// Fork: a StreamState is a plain value, so forking a stream is copying its state
// (fork_state()); each copy then evolves on its own and neither sees the other's steps. A
// snapshot is a fork that outlives the process: restoring it twice gives two independent
// streams that start at the same point.

#include <cstddef>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/ssm_model.hpp"

namespace statestream::models {

// The snapshot layout this build writes and reads; another version is refused by name.
inline constexpr int kStateSnapshotFormatVersion = 1;

// The one error type of snapshots. Like ModelFileError, the message starts with the snapshot it
// is about (a path, or the name the caller gave in-memory bytes) and says what is wrong and how
// to fix it.
class StateSnapshotError : public std::runtime_error {
public:
    StateSnapshotError(const std::string& source, const std::string& problem)
        : std::runtime_error(source + ": " + problem), source_(source) {}

    [[nodiscard]] const std::string& source() const noexcept { return source_; }

private:
    std::string source_;
};

// Thread: setup or worker; allocates. The snapshot bytes of `state`, which must be a state of
// `model` (values.size() == model.state_floats(), every value finite); throws
// StateSnapshotError otherwise, since such a snapshot could never be restored.
[[nodiscard]] std::vector<std::byte> save_state(const SsmModel& model, const StreamState& state);

// Thread: setup or worker; allocates and does file I/O. Writes save_state() to a temporary file
// beside `path`, flushes it to disk and renames it over `path`, so a crash leaves either the
// old snapshot or the new one under `path`, never half of one (at worst a stray
// "<path>.tmp-<pid>-<n>" beside it). Throws StateSnapshotError naming `path` and the system's
// reason when the file cannot be written; the temporary file is removed then.
void save_state_file(const SsmModel& model, const StreamState& state,
                     const std::filesystem::path& path);

// Thread: setup or worker; allocates. A state of `model` from snapshot bytes (any alignment;
// copied when not 8-byte aligned). Throws StateSnapshotError whose message starts with `source`
// when the bytes are not a readable snapshot, of another format version, of another model
// (naming both), of the wrong size or dtype, or hold a non-finite value.
[[nodiscard]] StreamState restore_state(const SsmModel& model, std::span<const std::byte> bytes,
                                        const std::string& source);

// Thread: setup or worker; allocates and reads the file. restore_state() on the file's bytes,
// with the path as the source; a file that cannot be read is a StateSnapshotError too.
[[nodiscard]] StreamState restore_state_file(const SsmModel& model,
                                             const std::filesystem::path& path);

// Thread: setup or worker; allocates. A second stream starting where `state` is now: a copy,
// so the two never share memory. Spelled out so call sites read as what they mean.
[[nodiscard]] inline StreamState fork_state(const StreamState& state) { return state; }

}  // namespace statestream::models
