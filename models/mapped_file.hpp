#pragma once
// A read-only memory mapping of a whole file. Model weights are read in place from the mapping,
// so loading costs page faults, not copies, and many processes share one copy in the page cache.

#include <cstddef>
#include <filesystem>
#include <span>

namespace statestream::models {

class MappedFile {
public:
    // Thread: setup. Throws ModelFileError naming the path when the file cannot be opened,
    // stat'ed or mapped. An empty file maps to an empty span.
    explicit MappedFile(const std::filesystem::path& path);
    ~MappedFile();
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }

private:
    const std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace statestream::models
