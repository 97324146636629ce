#pragma once
// The safetensors parser reads floats in place and so needs 8-byte aligned bytes (a mapping
// is); bytes from a vector<byte>, a network buffer or a fuzzer need not be, and are copied when
// they are not.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace statestream::models {

class AlignedCopy {
public:
    // Thread: setup or worker (allocates only when `bytes` is misaligned).
    explicit AlignedCopy(std::span<const std::byte> bytes) : bytes_(bytes) {
        if (reinterpret_cast<std::uintptr_t>(bytes.data()) % alignof(std::uint64_t) == 0) return;
        storage_.resize((bytes.size() + sizeof(std::uint64_t) - 1) / sizeof(std::uint64_t));
        std::memcpy(storage_.data(), bytes.data(), bytes.size());
        bytes_ = {reinterpret_cast<const std::byte*>(storage_.data()), bytes.size()};
    }
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return bytes_; }

private:
    std::vector<std::uint64_t> storage_;  // empty when the caller's bytes were aligned
    std::span<const std::byte> bytes_;
};

}  // namespace statestream::models
