#include "models/state_snapshot.hpp"

#include <atomic>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/aligned_bytes.hpp"
#include "models/model_file_error.hpp"
#include "models/safetensors_file.hpp"
#include "models/safetensors_writer.hpp"

namespace statestream::models {

static_assert(std::endian::native == std::endian::little,
              "snapshots store little-endian floats and are copied as is; big-endian hosts would "
              "need byte swaps");

namespace {

constexpr const char* kFormatKey = "statestream_state";
constexpr const char* kFingerprintKey = "model_fingerprint";
constexpr const char* kModelNameKey = "model_name";
constexpr const char* kModelSourceKey = "model_source";
constexpr const char* kStateTensor = "state";
constexpr std::size_t kLengthPrefixBytes = 8;  // safetensors: u64 little-endian header length


constexpr const char* kSaveAgain =
    " Restore an intact copy, or save the stream's state again (save_state_file()).";
constexpr const char* kStartFresh =
    " Restore it into the model it was saved from, or start this stream from a zero state "
    "(SsmModel::make_state()).";

std::size_t first_non_finite(std::span<const float> values) noexcept {
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (!std::isfinite(values[i])) return i;
    }
    return values.size();
}

// The model as a snapshot records it: the file name, not the path it was loaded from, because
// a snapshot moves between machines where that path means nothing; the fingerprint identifies.
std::string model_file_name(const SsmModel& model) {
    return std::filesystem::path(model.file().source()).filename().string();
}

std::string metadata_or(const std::map<std::string, std::string>& metadata, const char* key,
                        const char* fallback) {
    const auto it = metadata.find(key);
    return it == metadata.end() ? fallback : it->second;
}

// Closes the descriptor on every path out of the function that opened it.
struct FileDescriptor {
    int fd;
    ~FileDescriptor() {
        if (fd >= 0) ::close(fd);
    }
};

std::string system_reason() { return std::strerror(errno); }

void write_all(int fd, std::span<const std::byte> bytes, const std::string& temp_name) {
    while (!bytes.empty()) {
        const ::ssize_t written = ::write(fd, bytes.data(), bytes.size());
        if (written < 0) {
            if (errno == EINTR) continue;
            throw StateSnapshotError(temp_name, "cannot write the state snapshot: " +
                                                    system_reason() + ". Check free space and "
                                                    "permissions.");
        }
        bytes = bytes.subspan(static_cast<std::size_t>(written));
    }
}

// Makes the rename itself durable: until the directory entry reaches the disk, a power loss
// may bring back the old snapshot (or none) even though the new one was flushed.
void sync_directory(const std::filesystem::path& directory, const std::string& source) {
    const FileDescriptor dir{::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    // EINVAL: a file system that cannot sync directories (some network ones); nothing to do.
    if (dir.fd < 0 || (::fsync(dir.fd) != 0 && errno != EINVAL)) {
        throw StateSnapshotError(source, "was written, but its directory could not be flushed (" +
                                             system_reason() + "), so the snapshot may not "
                                             "survive a power loss. Save it again.");
    }
}

}  // namespace

std::vector<std::byte> save_state(const SsmModel& model, const StreamState& state) {
    const ModelFile& file = model.file();
    const std::string source = "state of model " + file.identity();
    if (state.values.size() != model.state_floats()) {
        throw StateSnapshotError(source, "holds " + std::to_string(state.values.size()) +
                                             " floats but this model's state has " +
                                             std::to_string(model.state_floats()) +
                                             ": the state was made by another model. Save it "
                                             "with the model that runs the stream.");
    }
    if (const std::size_t bad = first_non_finite(state.values); bad != state.values.size()) {
        throw StateSnapshotError(source, "holds a non-finite value (" +
                                             std::to_string(state.values[bad]) +
                                             ") at flat index " + std::to_string(bad) +
                                             ": the stream has diverged, and restoring would "
                                             "refuse the snapshot. Reset the stream "
                                             "(SsmModel::make_state()) instead of saving it.");
    }

    const std::map<std::string, std::string> metadata = {
        {kFormatKey, std::to_string(kStateSnapshotFormatVersion)},
        {kFingerprintKey, file.fingerprint()},
        {kModelNameKey, file.description().recipe.name},
        // A path that is not valid UTF-8 must not make saving fail: the writer replaces its bad
        // bytes in this messages-only field.
        {kModelSourceKey, model_file_name(model)},
    };
    const F32Tensor tensors[] = {{kStateTensor, state.values}};
    return write_safetensors(metadata, tensors);
}

void save_state_file(const SsmModel& model, const StreamState& state,
                     const std::filesystem::path& path) {
    const std::vector<std::byte> bytes = save_state(model, state);  // refuses before any I/O

    // Beside the target, so the rename stays within one file system and is atomic. The pid and a
    // process-wide counter keep concurrent savers (threads or processes) off each other's file.
    // Relaxed: the counter orders nothing, it only has to hand each call its own number.
    static std::atomic<std::uint64_t> temp_counter{0};
    const std::uint64_t serial = temp_counter.fetch_add(1, std::memory_order_relaxed);
    std::filesystem::path temp = path;
    temp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(serial);
    const std::string temp_name = temp.string();
    const std::string name = path.string();

    try {
        {
            const FileDescriptor out{
                ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)};
            if (out.fd < 0) {
                throw StateSnapshotError(name, "cannot create the temporary file " + temp_name +
                                                   " to save the state snapshot: " +
                                                   system_reason() + ". Check that the "
                                                   "directory exists and is writable.");
            }
            write_all(out.fd, bytes, temp_name);
            // Flushed before the rename: otherwise a crash could leave the new name pointing at
            // a file whose data never reached the disk.
            if (::fsync(out.fd) != 0) {
                throw StateSnapshotError(temp_name, "cannot flush the state snapshot to disk: " +
                                                        system_reason() + ".");
            }
        }
        if (::rename(temp.c_str(), path.c_str()) != 0) {
            throw StateSnapshotError(name, "cannot replace the snapshot with " + temp_name +
                                               ": " + system_reason() + ".");
        }
    } catch (...) {
        ::unlink(temp.c_str());  // ENOENT when creating it failed: nothing left behind either way
        throw;
    }
    const std::filesystem::path directory = path.parent_path();
    sync_directory(directory.empty() ? std::filesystem::path(".") : directory, name);
}

StreamState restore_state(const SsmModel& model, std::span<const std::byte> bytes,
                          const std::string& source) {
    const ModelFile& file = model.file();
    const AlignedCopy aligned(bytes);
    SafetensorsView view;
    try {
        view = SafetensorsView::parse(aligned.bytes(), source);
    } catch (const ModelFileError& error) {
        // The parser's message starts with the source too; keep only its problem.
        std::string problem = error.what();
        const std::string prefix = source + ": ";
        if (problem.compare(0, prefix.size(), prefix) == 0) problem.erase(0, prefix.size());
        throw StateSnapshotError(source, "is not a readable state snapshot; read as one, its "
                                         "safetensors container is refused: " + problem +
                                             kSaveAgain);
    }

    const auto& metadata = view.metadata();
    const auto format = metadata.find(kFormatKey);
    if (format == metadata.end()) {
        const bool is_model = metadata.count("architecture") != 0;
        throw StateSnapshotError(source, std::string(is_model ? "is a model file" : "is a "
                                                                "safetensors file") +
                                             ", not a state snapshot: its __metadata__ has no \"" +
                                             kFormatKey + "\" key. Pass a file written by "
                                             "save_state_file().");
    }
    if (format->second != std::to_string(kStateSnapshotFormatVersion)) {
        throw StateSnapshotError(source, "is state snapshot format version \"" + format->second +
                                             "\"; this build reads version " +
                                             std::to_string(kStateSnapshotFormatVersion) +
                                             " only. Restore it with the build that wrote it, "
                                             "or save the stream again with this one.");
    }

    const auto fingerprint = metadata.find(kFingerprintKey);
    if (fingerprint == metadata.end()) {
        throw StateSnapshotError(source, std::string("has no \"") + kFingerprintKey +
                                             "\" in __metadata__, so the model it belongs to is "
                                             "unknown: the snapshot is corrupt or hand-made." +
                                             kSaveAgain);
    }
    if (fingerprint->second != file.fingerprint()) {
        const std::string saved_from = "'" + metadata_or(metadata, kModelNameKey, "(unnamed)") +
                                       "' (" + metadata_or(metadata, kModelSourceKey, "(no file)") +
                                       ", fingerprint " + fingerprint->second + ")";
        throw StateSnapshotError(source, "was saved from model " + saved_from +
                                             " but is being restored into model " +
                                             file.identity() +
                                             ": a recurrent state means something only to the "
                                             "exact weights that produced it." + kStartFresh);
    }

    // Checked after the fingerprint: for a snapshot of another model, "wrong model" is the
    // useful message, and a size disagreement would only be its symptom.
    for (const TensorRecord& record : view.tensors()) {
        if (record.name != kStateTensor) {
            throw StateSnapshotError(source, "holds tensor '" + record.name + "'; a state "
                                             "snapshot holds exactly one tensor, '" +
                                             kStateTensor + "'." + kSaveAgain);
        }
    }
    const TensorRecord* record = view.find(kStateTensor);
    if (record == nullptr) {
        throw StateSnapshotError(source, std::string("has no tensor '") + kStateTensor +
                                             "': the snapshot is truncated or hand-made." +
                                             kSaveAgain);
    }
    if (record->dtype != DType::kF32) {
        throw StateSnapshotError(source, std::string("tensor '") + kStateTensor +
                                             "' has dtype " +
                                             std::string(dtype_name(record->dtype)) +
                                             ", expected F32 (a stream state is float32, stored "
                                             "as is so it restores bit for bit)." + kSaveAgain);
    }
    const std::vector<std::uint64_t> want_shape{std::uint64_t{model.state_floats()}};
    if (record->shape != want_shape) {
        throw StateSnapshotError(source, std::string("tensor '") + kStateTensor + "' has shape " +
                                             shape_string(record->shape) + ", expected " +
                                             shape_string(want_shape) + " (state_floats of "
                                             "model " + file.identity() + "): the fingerprints "
                                             "match, so the snapshot is corrupt or hand-edited." +
                                             kSaveAgain);
    }
    // Nothing may follow the floats: two snapshots written into one file, or a tail left by a
    // non-atomic copy, would otherwise pass unnoticed.
    const std::uint64_t data_end = kLengthPrefixBytes + view.header_bytes() + record->bytes.size();
    if (data_end != bytes.size()) {
        throw StateSnapshotError(source, "has " + std::to_string(bytes.size() - data_end) +
                                             " bytes after its state tensor; a snapshot ends "
                                             "with it. The file was appended to or spliced." +
                                             kSaveAgain);
    }

    StreamState state = model.make_state();
    std::memcpy(state.values.data(), record->bytes.data(), record->bytes.size());
    if (const std::size_t bad = first_non_finite(state.values); bad != state.values.size()) {
        throw StateSnapshotError(source, std::string("tensor '") + kStateTensor +
                                             "' holds a non-finite value (" +
                                             std::to_string(state.values[bad]) +
                                             ") at flat index " + std::to_string(bad) +
                                             ": the snapshot is corrupt (save_state() refuses "
                                             "such states). Start this stream from a zero state "
                                             "(SsmModel::make_state()).");
    }
    return state;
}

StreamState restore_state_file(const SsmModel& model, const std::filesystem::path& path) {
    const std::string name = path.string();
    const FileDescriptor in{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (in.fd < 0) {
        throw StateSnapshotError(name, "cannot open the state snapshot: " + system_reason() +
                                           ". Check the path.");
    }
    struct stat info {};
    if (::fstat(in.fd, &info) != 0) {
        throw StateSnapshotError(name, "cannot stat the state snapshot: " + system_reason());
    }
    if (!S_ISREG(info.st_mode)) {
        throw StateSnapshotError(name, "is not a regular file; pass a snapshot written by "
                                       "save_state_file().");
    }
    // Refused before reading: a file larger than any snapshot of this model could be (the
    // largest header the parser accepts plus the floats) is another file, perhaps a huge one.
    const auto size = static_cast<std::uint64_t>(info.st_size);
    const std::uint64_t largest = kLengthPrefixBytes + kMaxSafetensorsHeaderBytes +
                                  std::uint64_t{model.state_floats()} * sizeof(float);
    if (size > largest) {
        throw StateSnapshotError(name, "is " + std::to_string(size) + " bytes, more than any "
                                       "state snapshot of model " + model.file().identity() +
                                       " can be (" + std::to_string(largest) + "): it is not "
                                       "one. Check the path.");
    }

    std::vector<std::uint64_t> storage((size + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t));
    auto* cursor = reinterpret_cast<std::byte*>(storage.data());
    std::size_t left = static_cast<std::size_t>(size);
    while (left != 0) {
        const ::ssize_t got = ::read(in.fd, cursor, left);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            throw StateSnapshotError(name, "cannot read the state snapshot: " +
                                               (got < 0 ? system_reason()
                                                        : std::string("it shrank while being "
                                                                      "read")) + ".");
        }
        cursor += got;
        left -= static_cast<std::size_t>(got);
    }
    return restore_state(model, {reinterpret_cast<const std::byte*>(storage.data()),
                                 static_cast<std::size_t>(size)},
                         name);
}

}  // namespace statestream::models
