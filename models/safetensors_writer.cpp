#include "models/safetensors_writer.hpp"

#include <bit>
#include <cstring>

#include <nlohmann/json.hpp>

namespace statestream::models {

static_assert(std::endian::native == std::endian::little,
              "tensors are written as the host stores them; big-endian hosts would need byte swaps");

namespace {
constexpr std::size_t kLengthPrefixBytes = 8;  // u64 little-endian header length
constexpr std::size_t kDataAlignment = 8;      // pad the header so the floats start aligned
}  // namespace

std::vector<std::byte> write_safetensors(const std::map<std::string, std::string>& metadata,
                                         std::span<const F32Tensor> tensors) {
    nlohmann::json header;
    header["__metadata__"] = metadata;
    std::uint64_t offset = 0;
    for (const auto& tensor : tensors) {
        if (tensor.values.empty()) continue;
        const std::uint64_t bytes = std::uint64_t{tensor.values.size()} * sizeof(float);
        header[tensor.name] = {{"dtype", "F32"},
                               {"shape", {std::uint64_t{tensor.values.size()}}},
                               {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text.append((kDataAlignment - (kLengthPrefixBytes + text.size()) % kDataAlignment) % kDataAlignment, ' ');

    const std::uint64_t header_bytes = text.size();
    std::vector<std::byte> out(kLengthPrefixBytes + text.size() + static_cast<std::size_t>(offset));
    std::memcpy(out.data(), &header_bytes, kLengthPrefixBytes);
    std::memcpy(out.data() + kLengthPrefixBytes, text.data(), text.size());
    std::byte* data = out.data() + kLengthPrefixBytes + text.size();
    for (const auto& tensor : tensors) {
        if (tensor.values.empty()) continue;
        std::memcpy(data, tensor.values.data(), tensor.values.size() * sizeof(float));
        data += tensor.values.size() * sizeof(float);
    }
    return out;
}

}  // namespace statestream::models
