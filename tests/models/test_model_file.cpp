// Model-level validation on the shipped tiny model and on hostile edits of it: each defect is
// refused with one ModelFileError that names the file, the tensor or metadata field, and what
// is wrong.

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>

#include "models/block_state.hpp"
#include "models/model_file.hpp"
#include "models/model_file_error.hpp"
#include "models/tensor_schema.hpp"
#include "tests/support/editable_model.hpp"

using statestream::models::ModelFile;
using statestream::models::ModelFileError;
using statestream::test::AlignedBytes;
using statestream::test::EditableModel;
using Catch::Matchers::Contains;

namespace {

const std::filesystem::path kTinyModel =
    std::filesystem::path(STATESTREAM_DATA_DIR) / "models" / "tiny_mamba2.safetensors";

EditableModel tiny() {
    return EditableModel::from_bytes(statestream::test::read_file_bytes(kTinyModel));
}

void load(const EditableModel& model) {
    const AlignedBytes aligned(model.bytes());
    (void)ModelFile::parse(aligned.span(), "hostile.safetensors");
}

}  // namespace

TEST_CASE("The shipped tiny model loads and describes itself", "[models][model_file]") {
    const ModelFile model = ModelFile::load(kTinyModel);
    const auto& d = model.description();
    CHECK(d.format_version == 1);
    CHECK(d.task == statestream::models::Task::kTest);
    CHECK(d.frontend.type == statestream::models::FrontendType::kLogMel);
    CHECK(d.frontend.n_bands == d.architecture.input_dim);
    REQUIRE(d.architecture.layers.size() == 2);
    CHECK(d.architecture.layers[0].type == statestream::models::BlockType::kMamba2);

    // Parameter count and state size recomputed here from the Mamba-2 formulas, independently
    // of the loader's own bookkeeping.
    const auto& a = d.architecture;
    std::uint64_t params = std::uint64_t{a.d_model} * a.input_dim + a.d_model + a.d_model +
                           std::uint64_t{a.output_dim} * a.d_model + a.output_dim;
    std::uint64_t state_floats = 0;
    for (const auto& layer : a.layers) {
        const auto& s = layer.mamba2;
        const std::uint64_t d_inner = std::uint64_t{s.expand} * a.d_model;
        const std::uint64_t heads = d_inner / s.head_dim;
        const std::uint64_t conv_dim = d_inner + 2ULL * s.n_groups * s.d_state;
        params += a.d_model                                          // pre-norm
                  + (2 * d_inner + 2ULL * s.n_groups * s.d_state + heads) * a.d_model  // in_proj
                  + conv_dim * s.d_conv + conv_dim                   // conv
                  + 3 * heads                                        // dt_bias, A_log, D
                  + d_inner                                          // gated norm
                  + a.d_model * d_inner;                             // out_proj
        state_floats += heads * s.head_dim * s.d_state + (s.d_conv - 1) * conv_dim;
    }
    CHECK(model.parameter_count() == params);
    CHECK(statestream::models::state_size_per_stream(a).bytes() == state_floats * 4);

    const auto a_log = model.tensor("layers.1.mixer.A_log");
    REQUIRE(a_log.size() == a.layers[1].mamba2.expand * a.d_model / a.layers[1].mamba2.head_dim);
    for (const float v : a_log) CHECK(std::isfinite(v));
}

TEST_CASE("Hostile model: missing file", "[models][model_file][hostile]") {
    REQUIRE_THROWS_WITH(ModelFile::load("no/such/model.safetensors"),
                        Contains("no/such/model.safetensors") && Contains("cannot open"));
}

TEST_CASE("Hostile model: truncated on disk", "[models][model_file][hostile]") {
    auto bytes = statestream::test::read_file_bytes(kTinyModel);
    bytes.resize(bytes.size() - 100);
    const auto path = std::filesystem::temp_directory_path() / "statestream-truncated.safetensors";
    statestream::test::write_file_bytes(path, bytes);
    REQUIRE_THROWS_WITH(ModelFile::load(path), Contains(path.string()) && Contains("truncated") &&
                                                   Contains("tensor 'head."));
    std::filesystem::remove(path);
}

TEST_CASE("Hostile model: wrong dtype", "[models][model_file][hostile]") {
    auto model = tiny();
    model.header["layers.0.mixer.D"]["dtype"] = "F16";  // same bytes, twice the elements
    model.header["layers.0.mixer.D"]["shape"] = {8};
    REQUIRE_THROWS_WITH(load(model), Contains("tensor 'layers.0.mixer.D' has dtype F16, expected F32"));
}

TEST_CASE("Hostile model: shape that disagrees with the architecture", "[models][model_file][hostile]") {
    auto model = tiny();
    model.header["layers.0.mixer.A_log"]["shape"] = {2, 2};
    REQUIRE_THROWS_WITH(load(model), Contains("tensor 'layers.0.mixer.A_log' has shape [2, 2], "
                                              "expected [4]") &&
                                         Contains("n_heads = 4"));
}

TEST_CASE("Hostile model: metadata lies about d_model", "[models][model_file][hostile]") {
    auto model = tiny();
    auto arch = model.metadata_document("architecture");
    arch["d_model"] = 16;
    model.set_metadata_document("architecture", arch);
    REQUIRE_THROWS_WITH(load(model), Contains("tensor 'input_proj.weight' has shape [8, 8], "
                                              "expected [16, 8]"));
}

TEST_CASE("Hostile model: missing and extra tensors", "[models][model_file][hostile]") {
    auto missing = tiny();
    missing.header.erase("head.bias");
    REQUIRE_THROWS_WITH(load(missing), Contains("tensor 'head.bias' is missing"));

    auto extra = tiny();
    const auto end = extra.data.size();
    extra.data.resize(end + 4);
    extra.header["bogus.weight"] = {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {end, end + 4}}};
    REQUIRE_THROWS_WITH(load(extra), Contains("tensor 'bogus.weight' is not part of the architecture"));
}

TEST_CASE("Hostile model: non-finite weights", "[models][model_file][hostile]") {
    auto nan = tiny();
    nan.poke_float("layers.1.mixer.in_proj.weight", 7, std::numeric_limits<float>::quiet_NaN());
    REQUIRE_THROWS_WITH(load(nan), Contains("tensor 'layers.1.mixer.in_proj.weight' holds a "
                                            "non-finite value") && Contains("flat index 7"));
    auto inf = tiny();
    inf.poke_float("head.bias", 0, -std::numeric_limits<float>::infinity());
    REQUIRE_THROWS_WITH(load(inf), Contains("tensor 'head.bias' holds a non-finite value"));
}

TEST_CASE("Hostile model: metadata document with a number no double holds", "[models][model_file][hostile]") {
    auto model = tiny();
    model.header["__metadata__"]["architecture"] = "{\"d_model\": 1e999}";
    REQUIRE_THROWS_WITH(load(model), Contains("architecture") && Contains("is not valid JSON"));
}

TEST_CASE("Hostile model: metadata out of range or inconsistent", "[models][model_file][hostile]") {
    SECTION("head_dim that does not divide d_inner") {
        auto model = tiny();
        auto arch = model.metadata_document("architecture");
        arch["layers"][1]["head_dim"] = 3;
        model.set_metadata_document("architecture", arch);
        REQUIRE_THROWS_WITH(load(model), Contains("architecture.layers[1].head_dim is 3") &&
                                             Contains("does not divide d_inner"));
    }
    SECTION("a zero or huge size") {
        auto model = tiny();
        auto arch = model.metadata_document("architecture");
        arch["layers"][0]["d_state"] = 0;
        model.set_metadata_document("architecture", arch);
        REQUIRE_THROWS_WITH(load(model), Contains("architecture.layers[0].d_state is 0, expected "
                                                  "an integer in 1..1024"));
        arch["layers"][0]["d_state"] = 4;
        arch["d_model"] = 4000000000ULL;
        model.set_metadata_document("architecture", arch);
        REQUIRE_THROWS_WITH(load(model), Contains("architecture.d_model is 4000000000"));
    }
    SECTION("an unknown block type") {
        auto model = tiny();
        auto arch = model.metadata_document("architecture");
        arch["layers"][0]["type"] = "mamba9";
        model.set_metadata_document("architecture", arch);
        REQUIRE_THROWS_WITH(load(model), Contains("layers[0].type is \"mamba9\""));
    }
    SECTION("another format version") {
        auto model = tiny();
        model.header["__metadata__"]["format_version"] = "2";
        REQUIRE_THROWS_WITH(load(model), Contains("format_version is \"2\"; this build reads version 1"));
    }
    SECTION("no architecture at all") {
        auto model = tiny();
        model.header["__metadata__"].erase("architecture");
        REQUIRE_THROWS_WITH(load(model), Contains("has no \"architecture\" in __metadata__"));
    }
    SECTION("a front-end that feeds the wrong number of features") {
        auto model = tiny();
        auto frontend = model.metadata_document("frontend");
        frontend["n_bands"] = 40;
        model.set_metadata_document("frontend", frontend);
        REQUIRE_THROWS_WITH(load(model), Contains("frontend.n_bands is 40 but architecture.input_dim is 8"));
    }
}

TEST_CASE("Every tensor in the shipped model is one the schema expects, in order",
          "[models][model_file]") {
    const ModelFile model = ModelFile::load(kTinyModel);
    const auto expected = statestream::models::expected_tensors(model.description().architecture);
    REQUIRE(expected.size() == model.tensors().size());
    for (const auto& want : expected) {
        INFO("tensor " << want.name);
        CHECK(model.tensor(want.name).size() > 0);
    }
}

TEST_CASE("ModelFile fingerprint is FNV-1a 64 of the whole file and tells files apart",
          "[models][model_file][snapshot]") {
    const ModelFile model = ModelFile::load(kTinyModel);
    // Computed from the file by the FNV-1a spec, independently of the C++ code:
    //   python3 -c "h=0xcbf29ce484222325
    //   for b in open('data/models/tiny_mamba2.safetensors','rb').read(): h=((h^b)*0x100000001b3)%2**64
    //   print('%016x'%h)"
    // Rebuilding the tiny model changes it (and orphans every snapshot of the old one).
    CHECK(model.fingerprint() == "7b26be6603f6f753");
    CHECK(model.identity() == "'tiny-random' (" + kTinyModel.string() + ", fingerprint 7b26be6603f6f753)");

    const auto bytes = statestream::test::read_file_bytes(kTinyModel);
    const AlignedBytes same(bytes);
    CHECK(ModelFile::parse(same.span(), "copy").fingerprint() == model.fingerprint());

    // The last float of the data section one ulp away (its lowest mantissa bit, little-endian),
    // header untouched: still a valid model, but not the same one, so weights are hashed too.
    auto nudged = bytes;
    nudged[nudged.size() - sizeof(float)] ^= std::byte{1};
    const AlignedBytes nudged_bytes(nudged);
    const ModelFile other = ModelFile::parse(nudged_bytes.span(), "nudged");
    CHECK(other.fingerprint().size() == 16);
    CHECK(other.fingerprint() != model.fingerprint());
}
