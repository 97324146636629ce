#pragma once
// Text files that exist under their final name only when complete: written to
// partial_path_of(path), flushed to the disk (fsync), then renamed over `path`. rename() within
// one folder is atomic on POSIX file systems, so a crash, Ctrl-C or a full disk leaves either
// the old file, no file, or the new one, never half of one.

#include <filesystem>
#include <string_view>

namespace statestream::engine::batch {

// Thread: worker or setup (blocks on the file system). Creates missing parent folders. Throws
// std::runtime_error naming the file and the system's reason; the partial file is removed then.
void write_file_atomically(const std::filesystem::path& path, std::string_view contents);

}  // namespace statestream::engine::batch
