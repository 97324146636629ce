// State snapshots (models/state_snapshot.hpp) on the shipped models: bit-exact round trips, a
// stream paused in one model instance and resumed in another, forks, and one refusal per
// defect, each checked by what its message says. Every comparison of floats is memcmp: a
// snapshot must give back the very bits, not values within a tolerance.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

#include "models/model_file.hpp"
#include "models/safetensors_file.hpp"
#include "models/ssm_model.hpp"
#include "models/state_snapshot.hpp"
#include "tests/support/editable_model.hpp"

using statestream::models::fork_state;
using statestream::models::ModelFile;
using statestream::models::ModelWorkspace;
using statestream::models::restore_state;
using statestream::models::restore_state_file;
using statestream::models::save_state;
using statestream::models::save_state_file;
using statestream::models::SsmModel;
using statestream::models::StateSnapshotError;
using statestream::models::StreamState;
using statestream::test::AlignedBytes;
using statestream::test::EditableModel;
using Catch::Matchers::Contains;

namespace {

const std::filesystem::path kData(STATESTREAM_DATA_DIR);
const std::filesystem::path kTinyModel = kData / "models" / "tiny_mamba2.safetensors";
const std::filesystem::path kFixtureModel = kData / "fixtures" / "mamba2_fixture.safetensors";

// Inputs in [-2, 2): wide enough to drive the state well away from zero in a few steps.
std::vector<float> seeded_inputs(const SsmModel& model, std::size_t steps, unsigned seed) {
    std::mt19937 generator(seed);
    std::uniform_real_distribution<float> value(-2.0f, 2.0f);
    std::vector<float> x(steps * model.input_dim());
    for (float& v : x) v = value(generator);
    return x;
}

// step() over every frame of x {steps, input_dim}; returns y {steps, output_dim}.
std::vector<float> run_steps(const SsmModel& model, StreamState& state, std::span<const float> x) {
    ModelWorkspace ws(model, 1);
    const std::size_t steps = x.size() / model.input_dim();
    std::vector<float> y(steps * model.output_dim());
    for (std::size_t t = 0; t < steps; ++t) {
        model.step(state, ws, x.subspan(t * model.input_dim(), model.input_dim()),
                   std::span(y).subspan(t * model.output_dim(), model.output_dim()));
    }
    return y;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

bool any_nonzero(const std::vector<float>& values) {
    for (const float v : values) {
        if (v != 0.0f) return true;
    }
    return false;
}

// A fresh directory per test, removed with everything in it.
class TempDir {
public:
    explicit TempDir(const std::string& name)
        : path_(std::filesystem::temp_directory_path() /
                ("statestream-snapshot-" + std::to_string(::getpid()) + "-" + name)) {
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    [[nodiscard]] std::size_t entries() const {
        std::size_t count = 0;
        for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(path_)) ++count;
        return count;
    }

private:
    std::filesystem::path path_;
};

// A tiny-model stream 60 steps in, and its snapshot.
struct SavedStream {
    ModelFile file = ModelFile::load(kTinyModel);
    SsmModel model{file};
    StreamState state = model.make_state();
    std::vector<std::byte> snapshot;

    SavedStream() {
        (void)run_steps(model, state, seeded_inputs(model, 60, /*seed=*/11));
        snapshot = save_state(model, state);
    }
    // The snapshot opened for surgery, one defect at a time.
    [[nodiscard]] EditableModel editable() const {
        return EditableModel::from_bytes(snapshot);
    }
    void restore(const std::vector<std::byte>& bytes) const {
        const AlignedBytes aligned(bytes);
        (void)restore_state(model, aligned.span(), "edited.state");
    }
};

}  // namespace

TEST_CASE("State snapshot: save then restore is bit-exact after random steps", "[models][snapshot]") {
    for (const auto& path : {kTinyModel, kFixtureModel}) {
        INFO("model " << path.filename().string());
        const ModelFile file = ModelFile::load(path);
        const SsmModel model(file);
        StreamState state = model.make_state();
        (void)run_steps(model, state, seeded_inputs(model, 37, /*seed=*/3));  // 37: odd on purpose
        REQUIRE(any_nonzero(state.values));  // a zero state would round-trip trivially

        const auto bytes = save_state(model, state);
        const AlignedBytes aligned(bytes);
        CHECK(same_bits(restore_state(model, aligned.span(), "memory").values, state.values));

        // Caller bytes at an odd address (a network buffer) restore as well.
        std::vector<std::byte> shifted(bytes.size() + 1);
        std::copy(bytes.begin(), bytes.end(), shifted.begin() + 1);
        const AlignedBytes shifted_storage(shifted);
        CHECK(same_bits(restore_state(model, shifted_storage.span().subspan(1), "odd").values,
                        state.values));

        // Through a file: the snapshot is all that is left behind, no temporary files.
        const TempDir dir("roundtrip");
        const auto snapshot_path = dir.path() / "stream.state";
        save_state_file(model, state, snapshot_path);
        save_state_file(model, state, snapshot_path);  // replacing an existing snapshot
        CHECK(dir.entries() == 1);
        CHECK(same_bits(restore_state_file(model, snapshot_path).values, state.values));

        // The documented layout, read back with the plain container parser.
        const auto view = statestream::models::SafetensorsView::parse(aligned.span(), "memory");
        CHECK(view.metadata().at("statestream_state") == "1");
        CHECK(view.metadata().at("model_fingerprint") == file.fingerprint());
        CHECK(view.metadata().at("model_name") == file.description().recipe.name);
        CHECK(view.metadata().at("model_source") == path.filename().string());
        REQUIRE(view.tensors().size() == 1);
        CHECK(view.tensors()[0].name == "state");
        CHECK(view.tensors()[0].shape == std::vector<std::uint64_t>{model.state_floats()});
    }
}

TEST_CASE("State snapshot: a stream paused in one model instance resumes bit-identically in another",
          "[models][snapshot]") {
    const TempDir dir("resume");
    const auto snapshot_path = dir.path() / "paused.state";

    const ModelFile file_a = ModelFile::load(kTinyModel);
    const SsmModel model_a(file_a);
    const auto x = seeded_inputs(model_a, 150, /*seed=*/42);
    const auto x_before = std::span(x).first(100 * model_a.input_dim());
    const auto x_after = std::span(x).subspan(100 * model_a.input_dim());

    StreamState state_a = model_a.make_state();
    (void)run_steps(model_a, state_a, x_before);
    save_state_file(model_a, state_a, snapshot_path);
    const auto y_a = run_steps(model_a, state_a, x_after);

    // "Another process": the same file loaded again, a second model, nothing shared with A.
    const ModelFile file_b = ModelFile::load(kTinyModel);
    const SsmModel model_b(file_b);
    StreamState state_b = restore_state_file(model_b, snapshot_path);
    const auto y_b = run_steps(model_b, state_b, x_after);

    INFO("50 steps after resuming: " << y_a.size() << " outputs of A vs B");
    CHECK(same_bits(y_a, y_b));
    CHECK(same_bits(state_a.values, state_b.values));

    // And the snapshot carried something: resuming from a zero state instead gives other outputs.
    StreamState fresh = model_b.make_state();
    CHECK_FALSE(same_bits(run_steps(model_b, fresh, x_after), y_a));
}

TEST_CASE("State snapshot: forks diverge on their own inputs; the snapshot stays the fork point",
          "[models][snapshot]") {
    const SavedStream saved;
    const SsmModel& model = saved.model;
    const auto x_left = seeded_inputs(model, 20, /*seed=*/100);
    const auto x_right = seeded_inputs(model, 20, /*seed=*/200);

    StreamState left = fork_state(saved.state);
    StreamState right = fork_state(saved.state);
    const auto y_left = run_steps(model, left, x_left);
    const auto y_right = run_steps(model, right, x_right);
    CHECK_FALSE(same_bits(left.values, right.values));
    CHECK_FALSE(same_bits(y_left, y_right));
    CHECK_FALSE(same_bits(left.values, saved.state.values));  // the forks moved on ...
    const AlignedBytes bytes(saved.snapshot);
    StreamState again = restore_state(model, bytes.span(), "fork.state");
    CHECK(same_bits(again.values, saved.state.values));  // ... the original did not

    // Restored twice, the snapshot is that fork point again: replaying the left inputs gives
    // the left fork's outputs and state exactly.
    CHECK(same_bits(run_steps(model, again, x_left), y_left));
    CHECK(same_bits(again.values, left.values));
}

TEST_CASE("State snapshot refused: another model's snapshot names both models", "[models][snapshot][hostile]") {
    const SavedStream tiny;
    const ModelFile fixture_file = ModelFile::load(kFixtureModel);
    const SsmModel fixture(fixture_file);
    const AlignedBytes bytes(tiny.snapshot);
    REQUIRE_THROWS_AS(restore_state(fixture, bytes.span(), "tiny.state"), StateSnapshotError);
    REQUIRE_THROWS_WITH(restore_state(fixture, bytes.span(), "tiny.state"),
                        Contains("tiny.state: was saved from model 'tiny-random' "
                                 "(tiny_mamba2.safetensors, fingerprint " +
                                 tiny.file.fingerprint() + ")") &&
                            Contains("restored into model 'mamba2-fixture' (" +
                                     kFixtureModel.string() + ", fingerprint " +
                                     fixture_file.fingerprint() + ")"));
    REQUIRE(tiny.file.fingerprint() != fixture_file.fingerprint());
}

TEST_CASE("State snapshot refused: a model of the same shapes with one weight changed",
          "[models][snapshot][hostile]") {
    // The dangerous mix-up: the state has exactly the right size, so only the fingerprint can
    // tell. The last float of the tiny model's data section is moved by one ulp (its lowest
    // mantissa bit), as a re-export with slightly different weights would.
    const SavedStream tiny;
    auto bytes = statestream::test::read_file_bytes(kTinyModel);
    bytes[bytes.size() - sizeof(float)] ^= std::byte{1};
    const AlignedBytes retrained_bytes(bytes);
    const ModelFile retrained_file = ModelFile::parse(retrained_bytes.span(), "retrained.safetensors");
    const SsmModel retrained(retrained_file);
    REQUIRE(retrained.state_floats() == tiny.model.state_floats());

    const AlignedBytes snapshot(tiny.snapshot);
    REQUIRE_THROWS_WITH(restore_state(retrained, snapshot.span(), "tiny.state"),
                        Contains("was saved from model 'tiny-random' (tiny_mamba2.safetensors") &&
                            Contains("restored into model 'tiny-random' (retrained.safetensors, "
                                     "fingerprint " + retrained_file.fingerprint() + ")"));
}

TEST_CASE("State snapshot refused: truncated at every length", "[models][snapshot][hostile]") {
    const SavedStream saved;
    // Every proper prefix, from empty to one byte short: cuts in the length, the JSON header
    // and the floats each have their own parser message, and all of them must say "truncated".
    std::size_t accepted = 0;
    for (std::size_t length = 0; length < saved.snapshot.size(); ++length) {
        const std::vector<std::byte> cut(saved.snapshot.begin(),
                                         saved.snapshot.begin() + static_cast<std::ptrdiff_t>(length));
        try {
            saved.restore(cut);
            ++accepted;
            UNSCOPED_INFO("accepted a snapshot cut to " << length << " bytes");
        } catch (const StateSnapshotError& error) {
            const std::string text = error.what();
            if (text.find("truncated") == std::string::npos ||
                text.find("edited.state: is not a readable state snapshot") == std::string::npos) {
                FAIL_CHECK("cut to " << length << " bytes: " << text);
            }
        }
    }
    CHECK(accepted == 0);
    REQUIRE_THROWS_WITH(saved.restore({saved.snapshot.begin(), saved.snapshot.end() - 1}),
                        Contains("read as one, its safetensors container is refused") &&
                            Contains("tensor 'state' ends at data byte"));
}

TEST_CASE("State snapshot refused: format key missing or of another version", "[models][snapshot][hostile]") {
    const SavedStream saved;
    auto flipped = saved.editable();
    flipped.header["__metadata__"]["statestream_state"] = "2";
    REQUIRE_THROWS_WITH(saved.restore(flipped.bytes()),
                        Contains("is state snapshot format version \"2\"; this build reads version 1"));

    auto missing = saved.editable();
    missing.header["__metadata__"].erase("statestream_state");
    REQUIRE_THROWS_WITH(saved.restore(missing.bytes()),
                        Contains("is a safetensors file, not a state snapshot") &&
                            Contains("no \"statestream_state\" key"));

    // The model file itself, handed over as a snapshot by mistake.
    REQUIRE_THROWS_WITH(restore_state_file(saved.model, kTinyModel),
                        Contains("is a model file, not a state snapshot"));
}

TEST_CASE("State snapshot refused: a state tensor of the wrong length, dtype or company",
          "[models][snapshot][hostile]") {
    const SavedStream saved;
    const std::uint64_t n = saved.model.state_floats();
    const std::string n_text = std::to_string(n);

    auto shorter = saved.editable();  // one float short, consistently in shape and offsets
    shorter.header["state"]["shape"] = {n - 1};
    shorter.header["state"]["data_offsets"] = {0, (n - 1) * 4};
    shorter.data.resize((n - 1) * 4);
    REQUIRE_THROWS_WITH(saved.restore(shorter.bytes()),
                        Contains("tensor 'state' has shape [" + std::to_string(n - 1) +
                                 "], expected [" + n_text + "]"));

    auto matrix = saved.editable();  // the right count in the wrong shape
    matrix.header["state"]["shape"] = {2, n / 2};
    REQUIRE_THROWS_WITH(saved.restore(matrix.bytes()),
                        Contains("has shape [2, " + std::to_string(n / 2) + "], expected [" +
                                 n_text + "]"));

    auto doubles = saved.editable();  // F64: the same count in twice the bytes
    doubles.header["state"]["dtype"] = "F64";
    doubles.header["state"]["data_offsets"] = {0, n * 8};
    doubles.data.resize(n * 8);
    REQUIRE_THROWS_WITH(saved.restore(doubles.bytes()),
                        Contains("tensor 'state' has dtype F64, expected F32"));

    auto extra = saved.editable();
    extra.header["bonus"] = {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {n * 4, n * 4 + 4}}};
    extra.data.resize(n * 4 + 4);
    REQUIRE_THROWS_WITH(saved.restore(extra.bytes()),
                        Contains("holds tensor 'bonus'; a state snapshot holds exactly one"));

    auto renamed = saved.editable();
    renamed.header["values"] = renamed.header["state"];
    renamed.header.erase("state");
    REQUIRE_THROWS_WITH(saved.restore(renamed.bytes()), Contains("holds tensor 'values'"));

    auto tail = saved.snapshot;  // a second snapshot appended to the first
    tail.insert(tail.end(), saved.snapshot.begin(), saved.snapshot.end());
    REQUIRE_THROWS_WITH(saved.restore(tail),
                        Contains("has " + std::to_string(saved.snapshot.size()) +
                                 " bytes after its state tensor"));
}

TEST_CASE("State snapshot refused: non-finite values in the state", "[models][snapshot][hostile]") {
    const SavedStream saved;
    auto nan = saved.editable();
    nan.poke_float("state", 5, std::numeric_limits<float>::quiet_NaN());
    REQUIRE_THROWS_WITH(saved.restore(nan.bytes()),
                        Contains("tensor 'state' holds a non-finite value") &&
                            Contains("at flat index 5"));
    auto inf = saved.editable();
    inf.poke_float("state", saved.model.state_floats() - 1, std::numeric_limits<float>::infinity());
    REQUIRE_THROWS_WITH(saved.restore(inf.bytes()),
                        Contains("at flat index " + std::to_string(saved.model.state_floats() - 1)));

    // Saving such a state is refused up front, since it could never be restored.
    StreamState diverged = saved.state;
    diverged.values[3] = std::numeric_limits<float>::quiet_NaN();
    REQUIRE_THROWS_WITH(save_state(saved.model, diverged),
                        Contains("holds a non-finite value") && Contains("flat index 3"));
    StreamState foreign = saved.state;
    foreign.values.pop_back();
    REQUIRE_THROWS_WITH(save_state(saved.model, foreign),
                        Contains("but this model's state has " +
                                 std::to_string(saved.model.state_floats())));
}

TEST_CASE("State snapshot refused: bytes that are not a snapshot at all", "[models][snapshot][hostile]") {
    const SavedStream saved;
    const std::string text = "stream 7 paused at step 60, see you tomorrow\n";
    std::vector<std::byte> prose(text.size());
    std::memcpy(prose.data(), text.data(), text.size());
    REQUIRE_THROWS_WITH(saved.restore(prose),
                        Contains("edited.state: is not a readable state snapshot") &&
                            Contains("-byte header"));

    std::vector<std::byte> noise(4099);  // seeded noise, odd length
    std::mt19937 generator(5);
    for (auto& b : noise) b = static_cast<std::byte>(generator() & 0xff);
    REQUIRE_THROWS_AS(saved.restore(noise), StateSnapshotError);

    REQUIRE_THROWS_WITH(restore_state_file(saved.model, "no/such/stream.state"),
                        Contains("no/such/stream.state: cannot open the state snapshot"));
    REQUIRE_THROWS_WITH(save_state_file(saved.model, saved.state, "no/such/dir/stream.state"),
                        Contains("cannot create the temporary file"));
}
