#include "models/safetensors_file.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include <nlohmann/json.hpp>

#include "models/model_file_error.hpp"

namespace statestream::models {

static_assert(std::endian::native == std::endian::little,
              "safetensors stores little-endian data; big-endian hosts would need byte swaps");

namespace {

constexpr std::size_t kLengthPrefixBytes = 8;

std::uint64_t read_u64_le(std::span<const std::byte> bytes) noexcept {
    std::uint64_t value = 0;
    std::memcpy(&value, bytes.data(), sizeof value);
    return value;
}

// nlohmann's parser keeps its own stack, but a hostile header of nested brackets would still
// build a deep tree; refuse it with one linear scan before parsing.
int max_json_depth(std::string_view text) noexcept {
    int depth = 0;
    int deepest = 0;
    bool in_string = false;
    bool escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') in_string = true;
        else if (c == '{' || c == '[') deepest = std::max(deepest, ++depth);
        else if (c == '}' || c == ']') --depth;
    }
    return deepest;
}

bool checked_multiply(std::uint64_t a, std::uint64_t b, std::uint64_t& out) noexcept {
    if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return false;
    out = a * b;
    return true;
}

std::string tensor_problem(const std::string& name, const std::string& problem) {
    return "tensor '" + name + "' " + problem;
}

TensorRecord parse_tensor_entry(const std::string& source, const std::string& name,
                                const nlohmann::json& entry,
                                std::span<const std::byte> data, std::uint64_t data_start) {
    if (!entry.is_object()) {
        throw ModelFileError(source, tensor_problem(name, "is not a JSON object in the header; "
                                                          "the file is not a valid safetensors file."));
    }
    TensorRecord record;
    record.name = name;

    const auto dtype_it = entry.find("dtype");
    if (dtype_it == entry.end() || !dtype_it->is_string()) {
        throw ModelFileError(source, tensor_problem(name, "has no \"dtype\" string in the header."));
    }
    const auto dtype = parse_dtype(dtype_it->get_ref<const std::string&>());
    if (!dtype) {
        throw ModelFileError(source, tensor_problem(name, "has dtype \"" +
                                                              dtype_it->get<std::string>() +
                                                              "\", which statestream does not "
                                                              "support (F32, F16, BF16, F64)."));
    }
    record.dtype = *dtype;

    const auto shape_it = entry.find("shape");
    if (shape_it == entry.end() || !shape_it->is_array()) {
        throw ModelFileError(source, tensor_problem(name, "has no \"shape\" array in the header."));
    }
    if (shape_it->size() > kMaxTensorRank) {
        throw ModelFileError(source, tensor_problem(name, "has " + std::to_string(shape_it->size()) +
                                                              " dimensions; at most " +
                                                              std::to_string(kMaxTensorRank) +
                                                              " are supported."));
    }
    record.element_count = 1;
    for (const auto& dim : *shape_it) {
        if (!dim.is_number_unsigned()) {
            throw ModelFileError(source, tensor_problem(name, "has shape " + shape_it->dump() +
                                                                  "; every dimension must be a "
                                                                  "non-negative integer."));
        }
        const auto extent = dim.get<std::uint64_t>();
        record.shape.push_back(extent);
        if (!checked_multiply(record.element_count, extent, record.element_count)) {
            throw ModelFileError(source, tensor_problem(name, "has shape " + shape_it->dump() +
                                                                  ", whose element count "
                                                                  "overflows 64 bits."));
        }
    }

    const auto offsets_it = entry.find("data_offsets");
    if (offsets_it == entry.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
        !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned()) {
        throw ModelFileError(source, tensor_problem(name, "needs \"data_offsets\": [begin, end] "
                                                          "with two non-negative integers."));
    }
    const auto begin = (*offsets_it)[0].get<std::uint64_t>();
    const auto end = (*offsets_it)[1].get<std::uint64_t>();
    if (begin > end) {
        throw ModelFileError(source, tensor_problem(name, "has data_offsets [" +
                                                              std::to_string(begin) + ", " +
                                                              std::to_string(end) +
                                                              "]: begin is after end."));
    }
    if (end > data.size()) {
        throw ModelFileError(source, tensor_problem(name, "ends at data byte " + std::to_string(end) +
                                                              " but the file holds only " +
                                                              std::to_string(data.size()) +
                                                              " data bytes: the file is "
                                                              "truncated."));
    }
    std::uint64_t expected_bytes = 0;
    const bool bytes_fit = checked_multiply(record.element_count, dtype_bytes(record.dtype), expected_bytes);
    if (!bytes_fit || end - begin != expected_bytes) {
        // Without the overflow case spelled out, a wrapped product would print as "needs 0".
        throw ModelFileError(source, tensor_problem(name, "spans " + std::to_string(end - begin) +
                                                              " bytes but shape " +
                                                              shape_string(record.shape) + " of " +
                                                              std::string(dtype_name(record.dtype)) +
                                                              " needs " +
                                                              (bytes_fit ? std::to_string(expected_bytes)
                                                                         : std::string("more than 2^64 bytes")) +
                                                              "."));
    }
    // Weights are read in place from the mapping, so each element must sit at its natural
    // alignment in the file (the mapping itself starts page-aligned).
    if ((data_start + begin) % dtype_bytes(record.dtype) != 0) {
        throw ModelFileError(source, tensor_problem(name, "starts at file byte " +
                                                              std::to_string(data_start + begin) +
                                                              ", not aligned to its " +
                                                              std::to_string(dtype_bytes(record.dtype)) +
                                                              "-byte elements. Re-export the model "
                                                              "(docs/model_format.md)."));
    }
    record.bytes = data.subspan(static_cast<std::size_t>(begin),
                                static_cast<std::size_t>(end - begin));
    return record;
}

}  // namespace

std::string shape_string(std::span<const std::uint64_t> shape) {
    std::string out = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i != 0) out += ", ";
        out += std::to_string(shape[i]);
    }
    return out + "]";
}

SafetensorsView SafetensorsView::parse(std::span<const std::byte> file, const std::string& source) {
    // Tensors are read in place, so their alignment in the file is only their alignment in
    // memory when the bytes start aligned (a mapping starts on a page). Caller-owned bytes that
    // do not would make every float read undefined behaviour.
    if (reinterpret_cast<std::uintptr_t>(file.data()) % alignof(std::uint64_t) != 0) {
        throw ModelFileError(source, "was handed to the parser at an address that is not 8-byte "
                                     "aligned; copy the bytes into aligned storage first.");
    }
    if (file.size() < kLengthPrefixBytes) {
        throw ModelFileError(source, "is " + std::to_string(file.size()) +
                                         " bytes long: truncated, or not a safetensors file (it "
                                         "starts with an 8-byte header length).");
    }
    const std::uint64_t header_bytes = read_u64_le(file.first(kLengthPrefixBytes));
    if (header_bytes > kMaxSafetensorsHeaderBytes) {
        throw ModelFileError(source, "declares a " + std::to_string(header_bytes) +
                                         "-byte header, over the " +
                                         std::to_string(kMaxSafetensorsHeaderBytes) +
                                         "-byte limit: the file is corrupt or not a safetensors "
                                         "model.");
    }
    if (header_bytes > file.size() - kLengthPrefixBytes) {
        throw ModelFileError(source, "declares a " + std::to_string(header_bytes) +
                                         "-byte header but only " +
                                         std::to_string(file.size() - kLengthPrefixBytes) +
                                         " bytes follow: the file is truncated.");
    }
    const auto header_span = file.subspan(kLengthPrefixBytes, static_cast<std::size_t>(header_bytes));
    const std::string_view header_text(reinterpret_cast<const char*>(header_span.data()),
                                       header_span.size());
    if (max_json_depth(header_text) > kMaxSafetensorsHeaderDepth) {
        throw ModelFileError(source, "has a header nested deeper than " +
                                         std::to_string(kMaxSafetensorsHeaderDepth) +
                                         " levels: the file is corrupt or hostile.");
    }

    // Duplicate tensor names would let one entry silently shadow another.
    std::vector<std::string> top_level_keys;
    const auto note_keys = [&top_level_keys](int depth, nlohmann::json::parse_event_t event,
                                             nlohmann::json& parsed) {
        if (event == nlohmann::json::parse_event_t::key && depth == 1 && parsed.is_string()) {
            top_level_keys.push_back(parsed.get<std::string>());
        }
        return true;
    };
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(header_text.begin(), header_text.end(), note_keys);
    } catch (const nlohmann::json::exception& error) {
        // parse_error for bad syntax, out_of_range for numbers no double holds (1e999).
        throw ModelFileError(source, std::string("has a header that is not valid JSON (") +
                                         error.what() + "): the file is corrupt.");
    }
    if (!header.is_object()) {
        throw ModelFileError(source, "has a header that is not a JSON object: not a safetensors "
                                     "file.");
    }
    std::sort(top_level_keys.begin(), top_level_keys.end());
    if (const auto dup = std::adjacent_find(top_level_keys.begin(), top_level_keys.end());
        dup != top_level_keys.end()) {
        throw ModelFileError(source, "names '" + *dup + "' twice in its header; each tensor "
                                     "must appear once.");
    }

    SafetensorsView view;
    view.header_bytes_ = header_bytes;
    const std::uint64_t data_start = kLengthPrefixBytes + header_bytes;
    const auto data = file.subspan(static_cast<std::size_t>(data_start));
    for (const auto& [key, entry] : header.items()) {
        if (key == "__metadata__") {
            if (!entry.is_object()) {
                throw ModelFileError(source, "has a \"__metadata__\" entry that is not an object "
                                             "of strings.");
            }
            for (const auto& [meta_key, meta_value] : entry.items()) {
                if (!meta_value.is_string()) {
                    throw ModelFileError(source, "__metadata__ key '" + meta_key +
                                                     "' is not a string (safetensors metadata "
                                                     "values are strings; nested JSON is "
                                                     "stored as a string).");
                }
                view.metadata_.emplace(meta_key, meta_value.get<std::string>());
            }
            continue;
        }
        view.tensors_.push_back(parse_tensor_entry(source, key, entry, data, data_start));
    }

    std::sort(view.tensors_.begin(), view.tensors_.end(),
              [](const TensorRecord& a, const TensorRecord& b) {
                  return a.bytes.data() < b.bytes.data();
              });
    for (std::size_t i = 1; i < view.tensors_.size(); ++i) {
        const TensorRecord& previous = view.tensors_[i - 1];
        const TensorRecord& current = view.tensors_[i];
        if (previous.bytes.empty() || current.bytes.empty()) continue;
        if (current.bytes.data() < previous.bytes.data() + previous.bytes.size()) {
            throw ModelFileError(source, "tensors '" + previous.name + "' and '" + current.name +
                                             "' overlap in the data section: the header is "
                                             "corrupt. Re-export the model.");
        }
    }
    return view;
}

const TensorRecord* SafetensorsView::find(std::string_view name) const noexcept {
    for (const auto& record : tensors_) {
        if (record.name == name) return &record;
    }
    return nullptr;
}

}  // namespace statestream::models
