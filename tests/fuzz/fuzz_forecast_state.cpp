// libFuzzer target: arbitrary bytes as one forecasting stream's state file
// (engine/forecast/forecast_state_file.hpp) for the shipped forecaster, loaded once. Each input
// is written to a file in a scratch directory made once (in /dev/shm when there is one, since
// the reader maps a file) and read back as the forecaster reads it on a stream's start: the
// file reader, then the features' and readout's own checks. A refusal must be one
// ForecastStateError naming the file; a state every check accepts must run two ticks (model
// step, features, readout adaptation and forecast). An input in the patch mode
// (float_patches.hpp) patches the floats of a stream that has run 60 ticks, and is encoded with
// encode_forecast_state() before the same path. A crash, a sanitizer report or any other
// exception is a bug.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include "engine/forecast/forecast_state_file.hpp"
#include "engine/forecast/quantile_readout.hpp"
#include "engine/forecast/tick_features.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"
#include "tests/fuzz/float_patches.hpp"

using namespace statestream::engine::forecast;
using namespace statestream::models;

namespace {

constexpr std::string_view kStream = "AAPL";
// Tick times: the base stream's from the first, the ticks after a restore 100 s later.
constexpr std::int64_t kFirstTickNs = 1'700'000'000'000'000'000;
constexpr std::int64_t kTickStepNs = 1'000'000'000;

void require(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_forecast_state: %s\n", what);
    std::abort();
}

std::filesystem::path make_scratch_dir() {
    const char* base = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string pattern = std::string(base) + "/statestream-fuzz-forecast-XXXXXX";
    require(::mkdtemp(pattern.data()) != nullptr, "cannot create the scratch directory");
    return pattern;
}

struct Fixture {
    ModelFile file = ModelFile::load(STATESTREAM_DATA_DIR "/models/forecaster.safetensors");
    SsmModel model{file};
    ForecastSpec spec = file.description().forecast;
    ModelWorkspace workspace{model, 1};
    // A season the model allows, so the restored ring is read by the seasonal features too.
    std::uint32_t season = spec.max_season >= 2 ? std::min<std::uint32_t>(spec.max_season, 7) : 0;
    TickFeatures features{spec};
    QuantileReadout readout{spec, true};
    StreamState state = model.make_state();
    std::vector<float> feature_floats = std::vector<float>(features.state_floats());
    std::vector<float> readout_floats = std::vector<float>(readout.state_floats());
    std::vector<float> y = std::vector<float>(model.output_dim());
    std::vector<double> anchors = std::vector<double>(spec.horizon);
    std::vector<float> q = std::vector<float>(3 * std::size_t{spec.horizon});
    std::filesystem::path dir = make_scratch_dir();
    std::filesystem::path path = dir / "AAPL.state";
    // The patch mode's starting point: model, features and readout floats, concatenated.
    std::vector<float> base;
    std::vector<float> patched;

    Fixture();
    ~Fixture() {
        std::error_code ignored;
        std::filesystem::remove_all(dir, ignored);
    }
};

// One tick as the forecaster runs it (stream_forecaster.cpp, work_on_chunk).
void run_tick(Fixture& f, std::int64_t time_ns, float value) {
    float x[kTickFeatureCount];
    f.readout.adapt(value);
    f.features.step(time_ns, value, f.season, std::span<float, kTickFeatureCount>(x));
    f.model.step(f.state, f.workspace, x, f.y);
    if (!f.features.has_last()) {
        f.readout.skip();
        return;
    }
    f.features.anchors(f.season, f.anchors);
    const std::size_t h = f.spec.horizon;
    const std::span<float> q(f.q);
    f.readout.forecast(f.y, f.anchors, f.features.scale(), f.features.season_usable(f.season),
                       q.first(h), q.subspan(h, h), q.subspan(2 * h, h));
}

Fixture::Fixture() {
    require(model.output_dim() == 3 * std::size_t{spec.horizon}, "model outputs are not 3H");
    for (std::size_t t = 0; t < 60; ++t) {
        const float value = t % 17 == 5 ? NAN : 100.0f + 2.0f * std::sin(0.4f * static_cast<float>(t));
        run_tick(*this, kFirstTickNs + static_cast<std::int64_t>(t) * 250'000'000, value);
    }
    features.save_state(feature_floats);
    readout.save_state(readout_floats);
    base = state.values;
    base.insert(base.end(), feature_floats.begin(), feature_floats.end());
    base.insert(base.end(), readout_floats.begin(), readout_floats.end());
}

Fixture& fixture() {
    static Fixture f;
    return f;
}

void write_input(const std::filesystem::path& path, const std::uint8_t* data, std::size_t size) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    out.close();
    require(out.good(), "cannot write the input file");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Fixture& f = fixture();
    std::span<const std::uint8_t> patches;
    if (statestream::fuzz::float_patch_input({data, size}, patches)) {
        f.patched = f.base;
        statestream::fuzz::apply_float_patches(patches, f.patched);
        const std::span<const float> all(f.patched);
        const std::size_t m = f.state.values.size();
        const std::size_t k = f.feature_floats.size();
        std::vector<std::byte> bytes;
        try {
            bytes = encode_forecast_state(f.model, kStream,
                                          {all.first(m), all.subspan(m, k), all.subspan(m + k)});
        } catch (const ForecastStateError&) {
            return 0;  // a non-finite model state is refused before it is written
        }
        write_input(f.path, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    } else {
        write_input(f.path, data, size);
    }
    f.features.reset();
    f.readout.reset();
    try {
        read_forecast_state_file(f.model, kStream, f.path, f.state.values, f.feature_floats,
                                 f.readout_floats);
    } catch (const ForecastStateError& error) {
        require(std::string_view(error.what()).rfind(f.path.string() + ": ", 0) == 0,
                "a refusal does not start with the file");
        return 0;
    }
    for (const float v : f.state.values) require(std::isfinite(v), "accepted a non-finite model state");
    if (!f.features.restore_state(f.feature_floats) || !f.readout.restore_state(f.readout_floats)) {
        return 0;  // the forecaster refuses such a file by name (stream_forecaster.cpp)
    }

    // Later than any time a stream in the seeds saw: a value, then a gap.
    run_tick(f, kFirstTickNs + 100 * kTickStepNs, 101.25f);
    run_tick(f, kFirstTickNs + 101 * kTickStepNs, NAN);
    return 0;
}
