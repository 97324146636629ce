// libFuzzer target: arbitrary bytes as a stream snapshot (engine/stream_snapshot.hpp) restored
// into the speech pipeline of data/pipelines/speech_features.json (resample 48 -> 16 kHz,
// log-mel, the tiny model), built once; no audio device is involved. Each input must be
// restored or refused with one StreamSnapshotError naming the source, and a refusal must leave
// the pipeline as it was. A restored pipeline must save a snapshot that restores again, and
// run a few blocks. Not bit for bit: the resampler rebuilds its converter by replaying its
// history, and for a state whose phase and owed-output count disagree with that history (one
// save_state() never writes) each restore pushes the difference into the output FIFO again;
// the bit-exact round trip of saved states is tests/engine/test_pipeline.cpp's. An input in the
// patch mode (float_patches.hpp) patches the state floats of the pipeline after 12 blocks,
// written in save_stream()'s layout. A crash, a sanitizer report or any other exception is a
// bug.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <span>
#include <string_view>
#include <vector>

#include "engine/pipeline_description.hpp"
#include "engine/stream_snapshot.hpp"
#include "models/safetensors_writer.hpp"
#include "tests/fuzz/float_patches.hpp"

using namespace statestream::engine;

namespace {

constexpr const char* kSource = "fuzz.stream";
constexpr std::size_t kBlocksAfterRestore = 3;

void require(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_stream_snapshot: %s\n", what);
    std::abort();
}

struct Fixture {
    BuiltPipeline built = build_pipeline(
        load_pipeline_description(STATESTREAM_DATA_DIR "/pipelines/speech_features.json"),
        STATESTREAM_DATA_DIR "/pipelines");
    Pipeline& pipeline = *built.pipeline;
    std::vector<std::byte> fresh = save_stream(pipeline);
    std::vector<float> in = std::vector<float>(pipeline.input().floats());
    std::vector<float> out = std::vector<float>(pipeline.output().floats());
    std::vector<float> base = std::vector<float>(pipeline.state_floats());  // the patch mode's start
    std::vector<float> patched;

    Fixture() {
        // A tone rather than silence, so the log-mel and model stages see changing values.
        for (std::size_t i = 0; i < in.size(); ++i) in[i] = (i % 48 < 24) ? 0.25f : -0.25f;
        for (std::size_t i = 0; i < 12; ++i) pipeline.step(in, out);
        pipeline.save_state(base);
    }
};

// save_stream()'s layout around any floats, so patched values reach the stages' checks.
std::vector<std::byte> encode_stream(const Pipeline& pipeline, std::span<const float> state) {
    std::map<std::string, std::string> metadata = {{"statestream_stream", "1"},
                                                   {"stages", std::to_string(pipeline.size())}};
    std::vector<statestream::models::F32Tensor> tensors;
    for (std::size_t i = 0; i < pipeline.size(); ++i) {
        const std::string key = "stage." + std::to_string(i);
        metadata[key] = pipeline.stage(i).identity();
        tensors.push_back({key, state.first(pipeline.stage(i).state_floats())});
        state = state.subspan(pipeline.stage(i).state_floats());
    }
    return statestream::models::write_safetensors(metadata, tensors);
}

Fixture& fixture() {
    static Fixture f;
    return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Fixture& f = fixture();
    f.pipeline.reset();
    std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
    std::span<const std::uint8_t> patches;
    std::vector<std::byte> encoded;
    if (statestream::fuzz::float_patch_input({data, size}, patches)) {
        f.patched = f.base;
        statestream::fuzz::apply_float_patches(patches, f.patched);
        encoded = encode_stream(f.pipeline, f.patched);
        bytes = encoded;
    }
    try {
        restore_stream(f.pipeline, bytes, kSource);
    } catch (const StreamSnapshotError& error) {
        require(std::string_view(error.what()).rfind(std::string_view(kSource), 0) == 0,
                "a refusal does not start with the source");
        require(save_stream(f.pipeline) == f.fresh, "a refused snapshot changed the pipeline");
        return 0;
    }
    // What this build saves, it must accept: a StreamSnapshotError here escapes as a bug.
    restore_stream(f.pipeline, save_stream(f.pipeline), "fuzz.resaved");
    for (std::size_t i = 0; i < kBlocksAfterRestore; ++i) f.pipeline.step(f.in, f.out);
    return 0;
}
