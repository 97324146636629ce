// The container checks: every hostile header or offset gets a ModelFileError naming the source
// and the problem, never a crash or an out-of-bounds read (the ASan tree runs these).

#include <catch2/catch.hpp>

#include <cstring>
#include <limits>
#include <string>

#include "models/model_file_error.hpp"
#include "models/safetensors_file.hpp"
#include "tests/support/editable_model.hpp"

using statestream::models::ModelFileError;
using statestream::models::SafetensorsView;
using statestream::test::AlignedBytes;
using Catch::Matchers::Contains;

namespace {

// A container with the given header text and `data_bytes` bytes of data after it.
std::vector<std::byte> container(const std::string& header_text, std::size_t data_bytes,
                                 std::uint64_t declared_length = std::numeric_limits<std::uint64_t>::max()) {
    const std::uint64_t length = declared_length == std::numeric_limits<std::uint64_t>::max()
                                     ? header_text.size() : declared_length;
    std::vector<std::byte> out(8 + header_text.size() + data_bytes, std::byte{0});
    std::memcpy(out.data(), &length, 8);
    std::memcpy(out.data() + 8, header_text.data(), header_text.size());
    return out;
}

void parse(const std::vector<std::byte>& bytes) {
    const AlignedBytes aligned(bytes);
    (void)SafetensorsView::parse(aligned.span(), "hostile.safetensors");
}

// 8-byte header padding keeps the data section aligned; "   " pads {"x":...} headers below.
std::string one_tensor(const std::string& dtype, const std::string& shape, const std::string& offsets) {
    std::string text = R"({"x":{"dtype":")" + dtype + R"(","shape":)" + shape +
                       R"(,"data_offsets":)" + offsets + "}}";
    text.append((8 - text.size() % 8) % 8, ' ');
    return text;
}

}  // namespace

TEST_CASE("SafetensorsView parses a well-formed container", "[models][safetensors]") {
    const auto bytes = container(one_tensor("F32", "[2,3]", "[0,24]"), 24);
    const AlignedBytes aligned(bytes);
    const auto view = SafetensorsView::parse(aligned.span(), "good.safetensors");
    REQUIRE(view.tensors().size() == 1);
    const auto* x = view.find("x");
    REQUIRE(x != nullptr);
    CHECK(x->shape == std::vector<std::uint64_t>{2, 3});
    CHECK(x->element_count == 6);
    CHECK(x->bytes.size() == 24);
    CHECK(view.find("y") == nullptr);
}

TEST_CASE("Hostile container: empty and short files are truncated", "[models][safetensors][hostile]") {
    REQUIRE_THROWS_WITH(parse({}), Contains("hostile.safetensors") && Contains("0 bytes long") &&
                                       Contains("truncated"));
    REQUIRE_THROWS_WITH(parse(std::vector<std::byte>(5)), Contains("5 bytes long"));
}

TEST_CASE("Hostile container: oversized header length", "[models][safetensors][hostile]") {
    const auto bytes = container("{}      ", 0, std::uint64_t{1} << 40);
    REQUIRE_THROWS_WITH(parse(bytes), Contains("1099511627776-byte header") && Contains("limit"));
}

TEST_CASE("Hostile container: header length past the end of the file", "[models][safetensors][hostile]") {
    const auto bytes = container("{}      ", 0, 4096);
    REQUIRE_THROWS_WITH(parse(bytes), Contains("4096-byte header but only 8 bytes follow") &&
                                          Contains("truncated"));
}

TEST_CASE("Hostile container: header that is not JSON", "[models][safetensors][hostile]") {
    REQUIRE_THROWS_WITH(parse(container("{\"x\":[1,2", 0)), Contains("not valid JSON"));
    REQUIRE_THROWS_WITH(parse(container("[1,2,3] ", 0)), Contains("not a JSON object"));
    // A number no double can hold is an out_of_range from the JSON parser, not a parse_error;
    // found by the fuzzer, it used to escape as an uncaught exception.
    REQUIRE_THROWS_WITH(parse(container("{\"x\":{\"dtype\":9e999}}", 0)),
                        Contains("not valid JSON") && Contains("9e999"));
}

TEST_CASE("Hostile container: deeply nested header", "[models][safetensors][hostile]") {
    const std::string deep = std::string(10000, '[') + std::string(10000, ']');
    REQUIRE_THROWS_WITH(parse(container(deep, 0)), Contains("nested deeper than 16"));
}

TEST_CASE("Hostile container: unsupported dtype", "[models][safetensors][hostile]") {
    REQUIRE_THROWS_WITH(parse(container(one_tensor("I64", "[2]", "[0,16]"), 16)),
                        Contains("tensor 'x'") && Contains("dtype \"I64\""));
}

TEST_CASE("Hostile container: data offsets past the end", "[models][safetensors][hostile]") {
    REQUIRE_THROWS_WITH(parse(container(one_tensor("F32", "[8]", "[0,32]"), 16)),
                        Contains("tensor 'x'") && Contains("ends at data byte 32") &&
                            Contains("only 16 data bytes") && Contains("truncated"));
}

TEST_CASE("Hostile container: offsets that disagree with the shape", "[models][safetensors][hostile]") {
    REQUIRE_THROWS_WITH(parse(container(one_tensor("F32", "[3]", "[0,16]"), 16)),
                        Contains("tensor 'x' spans 16 bytes but shape [3] of F32 needs 12"));
}

TEST_CASE("Hostile container: begin after end", "[models][safetensors][hostile]") {
    REQUIRE_THROWS_WITH(parse(container(one_tensor("F32", "[0]", "[8,4]"), 16)),
                        Contains("begin is after end"));
}

TEST_CASE("Hostile container: overlapping tensors", "[models][safetensors][hostile]") {
    std::string text = R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                       R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})";
    text.append((8 - text.size() % 8) % 8, ' ');
    REQUIRE_THROWS_WITH(parse(container(text, 24)),
                        Contains("tensors 'a' and 'b' overlap"));
}

TEST_CASE("Hostile container: misaligned float tensor", "[models][safetensors][hostile]") {
    REQUIRE_THROWS_WITH(parse(container(one_tensor("F32", "[2]", "[2,10]"), 16)),
                        Contains("not aligned to its 4-byte elements"));
}

TEST_CASE("Hostile container: negative and overflowing dimensions", "[models][safetensors][hostile]") {
    REQUIRE_THROWS_WITH(parse(container(one_tensor("F32", "[-2]", "[0,8]"), 8)),
                        Contains("non-negative integer"));
    REQUIRE_THROWS_WITH(
        parse(container(one_tensor("F32", "[4294967296,4294967296,16]", "[0,8]"), 8)),
        Contains("overflows 64 bits"));
    REQUIRE_THROWS_WITH(parse(container(one_tensor("F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]"), 8)),
                        Contains("9 dimensions"));
}

TEST_CASE("Hostile container: a tensor named twice", "[models][safetensors][hostile]") {
    std::string text = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                       R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
    text.append((8 - text.size() % 8) % 8, ' ');
    REQUIRE_THROWS_WITH(parse(container(text, 8)), Contains("names 'a' twice"));
}

TEST_CASE("Hostile container: metadata that is not strings", "[models][safetensors][hostile]") {
    std::string text = R"({"__metadata__":{"format_version":1}})";
    text.append((8 - text.size() % 8) % 8, ' ');
    REQUIRE_THROWS_WITH(parse(container(text, 0)),
                        Contains("__metadata__ key 'format_version' is not a string"));
}

TEST_CASE("Hostile container: bytes not 8-byte aligned are refused", "[models][safetensors][hostile]") {
    const auto bytes = container(one_tensor("F32", "[2]", "[0,8]"), 8);
    std::vector<std::uint64_t> storage(bytes.size() / 8 + 2);
    auto* shifted = reinterpret_cast<std::byte*>(storage.data()) + 4;
    std::memcpy(shifted, bytes.data(), bytes.size());
    REQUIRE_THROWS_WITH(SafetensorsView::parse({shifted, bytes.size()}, "hostile.safetensors"),
                        Contains("not 8-byte aligned"));
}
