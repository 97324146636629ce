// libFuzzer target: arbitrary bytes as a model state snapshot (models/state_snapshot.hpp) of the
// shipped tiny model, loaded once. Each input must be restored or refused with one
// StateSnapshotError whose message starts with the source name. A restored state must have the
// model's size and finite values, run one step, and survive save -> restore bit for bit. A
// crash, a sanitizer report or any other exception is a bug.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "models/model_file.hpp"
#include "models/ssm_model.hpp"
#include "models/state_snapshot.hpp"

using namespace statestream::models;

namespace {

constexpr const char* kSource = "fuzz.state";

void require(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_state_snapshot: %s\n", what);
    std::abort();
}

struct Fixture {
    ModelFile file = ModelFile::load(STATESTREAM_DATA_DIR "/models/tiny_mamba2.safetensors");
    SsmModel model{file};
    ModelWorkspace workspace{model, 1};
    std::vector<float> x = std::vector<float>(model.input_dim(), 0.5f);
    std::vector<float> y = std::vector<float>(model.output_dim());
};

Fixture& fixture() {
    static Fixture f;
    return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Fixture& f = fixture();
    const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    StreamState state;
    try {
        state = restore_state(f.model, bytes, kSource);
    } catch (const StateSnapshotError& error) {
        require(std::string_view(error.what()).rfind(std::string(kSource) + ": ", 0) == 0,
                "a refusal does not start with the source");
        require(error.source() == kSource, "a refusal names another source");
        return 0;
    }
    require(state.values.size() == f.model.state_floats(), "restored a state of another size");
    for (const float v : state.values) require(std::isfinite(v), "restored a non-finite value");

    // What restores must save and restore again to the very same bits.
    const std::vector<std::byte> saved = save_state(f.model, state);
    const StreamState again = restore_state(f.model, saved, "fuzz.resaved");
    require(again.values.size() == state.values.size() &&
                std::memcmp(again.values.data(), state.values.data(),
                            state.values.size() * sizeof(float)) == 0,
            "save -> restore changed the state");

    f.model.step(state, f.workspace, f.x, f.y);
    return 0;
}
