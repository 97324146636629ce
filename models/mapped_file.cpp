#include "models/mapped_file.hpp"

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/model_file_error.hpp"

namespace statestream::models {

namespace {

// Closes the descriptor on every path out of the constructor; the mapping outlives it.
struct FileDescriptor {
    int fd;
    ~FileDescriptor() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

MappedFile::MappedFile(const std::filesystem::path& path) {
    const std::string name = path.string();
    const FileDescriptor file{::open(name.c_str(), O_RDONLY | O_CLOEXEC)};
    if (file.fd < 0) {
        throw ModelFileError(name, std::string("cannot open the model file: ") +
                                       std::strerror(errno) + ". Check the path.");
    }
    struct stat info {};
    if (::fstat(file.fd, &info) != 0) {
        throw ModelFileError(name, std::string("cannot stat the model file: ") +
                                       std::strerror(errno));
    }
    if (!S_ISREG(info.st_mode)) {
        throw ModelFileError(name, "is not a regular file; pass a .safetensors model file.");
    }
    size_ = static_cast<std::size_t>(info.st_size);
    if (size_ == 0) return;
    void* mapped = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, file.fd, 0);
    if (mapped == MAP_FAILED) {
        size_ = 0;
        throw ModelFileError(name, std::string("cannot map the model file into memory: ") +
                                       std::strerror(errno));
    }
    data_ = static_cast<const std::byte*>(mapped);
}

MappedFile::~MappedFile() {
    if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
    if (this != &other) {
        if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

}  // namespace statestream::models
