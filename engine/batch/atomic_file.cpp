#include "engine/batch/atomic_file.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/core.h>

#include "engine/batch/file_task.hpp"

namespace statestream::engine::batch {

namespace {

[[noreturn]] void fail(const std::filesystem::path& partial, const std::string& what, int error) {
    std::error_code ignored;
    std::filesystem::remove(partial, ignored);
    throw std::runtime_error(fmt::format("'{}': {} ({})", partial.string(), what, std::strerror(error)));
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view contents) {
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    const std::filesystem::path partial = partial_path_of(path);
    const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw std::runtime_error(fmt::format("'{}': cannot create it ({}); check that the folder is "
                                             "writable", partial.string(), std::strerror(errno)));
    }
    for (std::size_t at = 0; at < contents.size();) {
        const ssize_t wrote = ::write(fd, contents.data() + at, contents.size() - at);
        if (wrote < 0) {
            if (errno == EINTR) continue;  // a signal (Ctrl-C) arrived mid-write; the caller decides
            const int error = errno;
            ::close(fd);
            fail(partial, fmt::format("write failed after {} of {} bytes", at, contents.size()), error);
        }
        at += static_cast<std::size_t>(wrote);
    }
    if (::fsync(fd) != 0) {
        const int error = errno;
        ::close(fd);
        fail(partial, "flushing to the disk failed", error);
    }
    if (::close(fd) != 0) fail(partial, "closing failed", errno);
    if (::rename(partial.c_str(), path.c_str()) != 0) {
        fail(partial, fmt::format("cannot move it into place as '{}'", path.string()), errno);
    }
}

}  // namespace statestream::engine::batch
