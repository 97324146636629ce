#pragma once
// A model file opened for surgery: the header as JSON and the data section as bytes, written
// back as a valid container (length prefix, space padding to 8 bytes). Tests use it to build
// hostile files from the shipped tiny model, one defect at a time.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace statestream::test {

inline std::vector<std::byte> read_file_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    const std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::byte> bytes(chars.size());
    std::memcpy(bytes.data(), chars.data(), chars.size());
    return bytes;
}

inline void write_file_bytes(const std::filesystem::path& path, const std::vector<std::byte>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path.string());
}

struct EditableModel {
    nlohmann::json header;
    std::vector<std::byte> data;

    static EditableModel from_bytes(const std::vector<std::byte>& file) {
        std::uint64_t header_bytes = 0;
        std::memcpy(&header_bytes, file.data(), sizeof header_bytes);
        EditableModel model;
        const auto* text = reinterpret_cast<const char*>(file.data()) + 8;
        model.header = nlohmann::json::parse(text, text + header_bytes);
        model.data.assign(file.begin() + 8 + static_cast<std::ptrdiff_t>(header_bytes), file.end());
        return model;
    }

    // The metadata entry `key` (a JSON document stored as a string), parsed for editing.
    nlohmann::json metadata_document(const std::string& key) const {
        return nlohmann::json::parse(header.at("__metadata__").at(key).get<std::string>());
    }
    void set_metadata_document(const std::string& key, const nlohmann::json& doc) {
        header["__metadata__"][key] = doc.dump();
    }
    // Overwrites one float of a tensor in the data section.
    void poke_float(const std::string& tensor, std::size_t index, float value) {
        const auto begin = header.at(tensor).at("data_offsets").at(0).get<std::size_t>();
        std::memcpy(data.data() + begin + index * sizeof(float), &value, sizeof value);
    }

    std::vector<std::byte> bytes() const {
        std::string text = header.dump();
        text.append((8 - (8 + text.size()) % 8) % 8, ' ');
        const std::uint64_t header_bytes = text.size();
        std::vector<std::byte> out(8 + text.size());
        std::memcpy(out.data(), &header_bytes, 8);
        std::memcpy(out.data() + 8, text.data(), text.size());
        out.insert(out.end(), data.begin(), data.end());
        return out;
    }
};

// Bytes for the parser, 8-byte aligned as a mapping would be (vector<byte> only promises 1).
class AlignedBytes {
public:
    explicit AlignedBytes(const std::vector<std::byte>& bytes)
        : storage_((bytes.size() + 7) / 8), size_(bytes.size()) {
        if (size_ != 0) std::memcpy(storage_.data(), bytes.data(), size_);
    }
    [[nodiscard]] std::span<const std::byte> span() const noexcept {
        return {reinterpret_cast<const std::byte*>(storage_.data()), size_};
    }

private:
    std::vector<std::uint64_t> storage_;
    std::size_t size_;
};

}  // namespace statestream::test
