// The C++ Mamba-2 stack against the PyTorch reference's golden fixtures (float64, step by
// step), and forward() over chunks against repeated step(). Bound: 1e-5 relative to the
// largest reference value (floor 1e-3), per output tensor and per state tensor.

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "models/model_file.hpp"
#include "models/ssm_model.hpp"
#include "tests/support/fixture_file.hpp"

using statestream::models::ModelFile;
using statestream::models::ModelWorkspace;
using statestream::models::SsmModel;
using statestream::models::StreamState;
using statestream::test::FixtureFile;
using statestream::test::relative_error;

namespace {

constexpr double kTolerance = 1e-5;
const std::filesystem::path kFixtures = std::filesystem::path(STATESTREAM_DATA_DIR) / "fixtures";

StreamState initial_state(const SsmModel& model, const FixtureFile& fixture) {
    StreamState state = model.make_state();
    for (std::size_t i = 0; i < model.architecture().layers.size(); ++i) {
        auto views = model.layer_state(state, i);
        const auto ssm = fixture.floats("initial.layers." + std::to_string(i) + ".ssm");
        const auto conv = fixture.floats("initial.layers." + std::to_string(i) + ".conv");
        REQUIRE(ssm.size() == views.ssm.size());
        REQUIRE(conv.size() == views.conv.size());
        std::copy(ssm.begin(), ssm.end(), views.ssm.begin());
        std::copy(conv.begin(), conv.end(), views.conv.begin());
    }
    return state;
}

void check_final_state(const SsmModel& model, StreamState& state, const FixtureFile& fixture) {
    for (std::size_t i = 0; i < model.architecture().layers.size(); ++i) {
        auto views = model.layer_state(state, i);
        for (const char* kind : {"ssm", "conv"}) {
            const auto want = fixture.doubles("final.layers." + std::to_string(i) + "." + kind);
            const std::vector<float> got = std::string(kind) == "ssm"
                                               ? std::vector<float>(views.ssm.begin(), views.ssm.end())
                                               : std::vector<float>(views.conv.begin(), views.conv.end());
            const double err = relative_error(got, want);
            INFO("layer " << i << " " << kind << " state: relative error " << err);
            CHECK(err < kTolerance);
        }
    }
}

}  // namespace

TEST_CASE("Mamba2: step() and forward() match the PyTorch reference fixtures", "[models][mamba2][fixtures]") {
    const ModelFile file = ModelFile::load(kFixtures / "mamba2_fixture.safetensors");
    const SsmModel model(file);
    for (const int length : {1, 257, 4096}) {
        const FixtureFile fixture(kFixtures / ("mamba2_fixture.T" + std::to_string(length) + ".safetensors"));
        const auto x = fixture.floats("input");
        const auto want = fixture.doubles("output");
        REQUIRE(x.size() == static_cast<std::size_t>(length) * model.input_dim());

        SECTION("step() at T=" + std::to_string(length)) {
            StreamState state = initial_state(model, fixture);
            ModelWorkspace ws(model, 1);
            std::vector<float> y(want.size());
            for (int t = 0; t < length; ++t) {
                model.step(state, ws, std::span(x).subspan(t * model.input_dim(), model.input_dim()),
                           std::span(y).subspan(t * model.output_dim(), model.output_dim()));
            }
            const double err = relative_error(y, want);
            INFO("T=" << length << " step() output relative error " << err);
            CHECK(err < kTolerance);
            check_final_state(model, state, fixture);
        }
        SECTION("forward() at T=" + std::to_string(length) + " in chunks of 64") {
            StreamState state = initial_state(model, fixture);
            ModelWorkspace ws(model, 64);
            std::vector<float> y(want.size());
            model.forward(state, ws, x, y);
            const double err = relative_error(y, want);
            INFO("T=" << length << " forward() output relative error " << err);
            CHECK(err < kTolerance);
            check_final_state(model, state, fixture);
        }
    }
}

TEST_CASE("Mamba2: forward() over any chunking equals repeated step()", "[models][mamba2]") {
    const ModelFile file = ModelFile::load(kFixtures / "mamba2_fixture.safetensors");
    const SsmModel model(file);
    const FixtureFile fixture(kFixtures / "mamba2_fixture.T4096.safetensors");
    const auto x_all = fixture.floats("input");
    const std::vector<float> x(x_all.begin(), x_all.begin() + 1000 * model.input_dim());  // 1000: no chunk multiple

    StreamState stepped = initial_state(model, fixture);
    ModelWorkspace one(model, 1);
    std::vector<float> y_steps(1000 * model.output_dim());
    for (std::size_t t = 0; t < 1000; ++t) {
        model.step(stepped, one, std::span(x).subspan(t * model.input_dim(), model.input_dim()),
                   std::span(y_steps).subspan(t * model.output_dim(), model.output_dim()));
    }
    for (const std::size_t chunk : {7u, 64u, 512u, 1000u}) {
        StreamState chunked = initial_state(model, fixture);
        ModelWorkspace ws(model, chunk);
        std::vector<float> y(y_steps.size());
        model.forward(chunked, ws, x, y);
        const double err = relative_error(y, y_steps);
        const double state_err = relative_error(chunked.values, stepped.values);
        INFO("chunk " << chunk << ": output relative error " << err << ", state " << state_err);
        CHECK(err < kTolerance);
        CHECK(state_err < kTolerance);
    }
}
