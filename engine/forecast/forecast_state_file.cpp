#include "engine/forecast/forecast_state_file.hpp"

#include <atomic>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>

#include <fcntl.h>
#include <unistd.h>

#include "models/mapped_file.hpp"
#include "models/model_file_error.hpp"
#include "models/safetensors_file.hpp"
#include "models/safetensors_writer.hpp"

namespace statestream::engine::forecast {

static_assert(std::endian::native == std::endian::little,
              "snapshots store little-endian floats and are copied as is");

namespace {

constexpr const char* kFormatKey = "statestream_forecast_state";
constexpr const char* kFingerprintKey = "model_fingerprint";
constexpr const char* kModelNameKey = "model_name";
constexpr const char* kModelSourceKey = "model_source";
constexpr const char* kStreamKey = "stream_id";
constexpr const char* kModelTensor = "model";
constexpr const char* kFeaturesTensor = "features";
constexpr const char* kReadoutTensor = "readout";

constexpr const char* kStartsFresh =
    " The stream starts fresh; the snapshot is moved aside (to the same name + '.refused') so "
    "that saving the new state does not replace it. Run the model it was saved with to use it.";

struct FileDescriptor {
    int fd;
    ~FileDescriptor() {
        if (fd >= 0) ::close(fd);
    }
};

std::string system_reason() { return std::strerror(errno); }

std::string metadata_or(const std::map<std::string, std::string>& metadata, const char* key,
                        const char* fallback) {
    const auto it = metadata.find(key);
    return it == metadata.end() ? fallback : it->second;
}

void copy_tensor(const models::SafetensorsView& view, const char* name, std::span<float> out,
                 const std::string& source) {
    const models::TensorRecord* record = view.find(name);
    if (record == nullptr && out.empty()) return;  // the writer leaves empty tensors out
    if (record == nullptr) {
        throw ForecastStateError(source, std::string("has no tensor '") + name +
                                             "': the snapshot is truncated or hand-made." +
                                             kStartsFresh);
    }
    if (record->dtype != models::DType::kF32 || record->element_count != out.size()) {
        throw ForecastStateError(source, std::string("tensor '") + name + "' is " +
                                             std::string(models::dtype_name(record->dtype)) + " " +
                                             models::shape_string(record->shape) + ", expected F32 [" +
                                             std::to_string(out.size()) + "]: the fingerprints "
                                             "match, so the snapshot is corrupt or was written by "
                                             "another build." + kStartsFresh);
    }
    std::memcpy(out.data(), record->bytes.data(), record->bytes.size());
}

}  // namespace

std::vector<std::byte> encode_forecast_state(const models::SsmModel& model,
                                             std::string_view stream_id,
                                             const ForecastStateParts& parts) {
    for (const float f : parts.model) {
        if (!std::isfinite(f)) {
            throw ForecastStateError("stream '" + std::string(stream_id) + "'",
                                     "has a non-finite model state: it has diverged, and a "
                                     "snapshot of it would be refused on restore. Not saved.");
        }
    }
    const models::ModelFile& file = model.file();
    const std::map<std::string, std::string> metadata = {
        {kFormatKey, std::to_string(kForecastStateFormatVersion)},
        {kFingerprintKey, file.fingerprint()},
        {kModelNameKey, file.description().recipe.name},
        {kModelSourceKey, std::filesystem::path(file.source()).filename().string()},
        {kStreamKey, std::string(stream_id)},
    };
    const models::F32Tensor tensors[] = {{kModelTensor, parts.model},
                                         {kFeaturesTensor, parts.features},
                                         {kReadoutTensor, parts.readout}};
    return models::write_safetensors(metadata, tensors);
}

void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes) {
    // Beside the target, so that the rename stays on one file system and is atomic. Relaxed:
    // the counter only hands each call its own number.
    static std::atomic<std::uint64_t> temp_counter{0};
    const std::uint64_t serial = temp_counter.fetch_add(1, std::memory_order_relaxed);
    std::filesystem::path temp = path;
    temp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(serial);
    const std::string name = path.string();
    try {
        {
            const FileDescriptor out{::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)};
            if (out.fd < 0) {
                throw ForecastStateError(name, "cannot create the temporary file " + temp.string() +
                                                   ": " + system_reason() + ". Check that the state "
                                                   "directory exists and is writable.");
            }
            while (!bytes.empty()) {
                const ::ssize_t written = ::write(out.fd, bytes.data(), bytes.size());
                if (written < 0 && errno == EINTR) continue;
                if (written < 0) {
                    throw ForecastStateError(name, "cannot write the snapshot: " + system_reason() +
                                                       ". Check free space.");
                }
                bytes = bytes.subspan(static_cast<std::size_t>(written));
            }
            // Flushed before the rename, or a crash could leave the name on a file whose data
            // never reached the disk.
            if (::fsync(out.fd) != 0) {
                throw ForecastStateError(name, "cannot flush the snapshot to disk: " + system_reason() + ".");
            }
        }
        if (::rename(temp.c_str(), path.c_str()) != 0) {
            throw ForecastStateError(name, "cannot rename " + temp.string() + " over it: " +
                                               system_reason() + ".");
        }
    } catch (...) {
        ::unlink(temp.c_str());
        throw;
    }
}

void read_forecast_state_file(const models::SsmModel& model, std::string_view stream_id,
                              const std::filesystem::path& path, std::span<float> model_state,
                              std::span<float> features, std::span<float> readout) {
    const std::string source = path.string();
    std::optional<models::MappedFile> mapping;
    models::SafetensorsView view;
    try {
        mapping.emplace(path);
        view = models::SafetensorsView::parse(mapping->bytes(), source);
    } catch (const models::ModelFileError& error) {
        // Its message starts with the path already.
        throw ForecastStateError(source, std::string("is not a readable forecast snapshot (") +
                                             error.what() + ")." + kStartsFresh);
    }

    const auto& metadata = view.metadata();
    const auto format = metadata.find(kFormatKey);
    if (format == metadata.end()) {
        throw ForecastStateError(source, std::string("is not a forecast snapshot: its __metadata__ "
                                                     "has no \"") + kFormatKey + "\"." + kStartsFresh);
    }
    if (format->second != std::to_string(kForecastStateFormatVersion)) {
        throw ForecastStateError(source, "is forecast snapshot format version \"" + format->second +
                                             "\"; this build reads version " +
                                             std::to_string(kForecastStateFormatVersion) +
                                             " only." + kStartsFresh);
    }
    const models::ModelFile& file = model.file();
    const std::string fingerprint = metadata_or(metadata, kFingerprintKey, "(none)");
    if (fingerprint != file.fingerprint()) {
        throw ForecastStateError(source, "was saved from model '" +
                                             metadata_or(metadata, kModelNameKey, "(unnamed)") + "' (" +
                                             metadata_or(metadata, kModelSourceKey, "(no file)") +
                                             ", fingerprint " + fingerprint +
                                             ") but this run's model is " + file.identity() +
                                             ": a stream's state means something only to the "
                                             "exact weights that produced it." + kStartsFresh);
    }
    const std::string saved_stream = metadata_or(metadata, kStreamKey, "(none)");
    if (saved_stream != stream_id) {
        throw ForecastStateError(source, "holds stream '" + saved_stream + "', not '" +
                                             std::string(stream_id) +
                                             "': the file was renamed or copied by hand." +
                                             kStartsFresh);
    }
    copy_tensor(view, kModelTensor, model_state, source);
    copy_tensor(view, kFeaturesTensor, features, source);
    copy_tensor(view, kReadoutTensor, readout, source);
    for (const float f : model_state) {
        if (!std::isfinite(f)) {
            throw ForecastStateError(source, "holds a non-finite model state: the snapshot is "
                                             "corrupt." + std::string(kStartsFresh));
        }
    }
}

}  // namespace statestream::engine::forecast
