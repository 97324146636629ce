// The models layer checked without Catch2, for the models-only build on the GPU machine: the
// shipped model loads, a hostile edit is refused by name, the C++ matches the reference
// fixtures for every block type, and every CUDA device runs the probe.
// Prints "N passed, M failed" last; exits non-zero on any failure.

#include <cstdio>
#include <string>

#include "models/cuda/cuda_devices.hpp"
#include "models/model_file.hpp"
#include "models/model_file_error.hpp"
#include "models/ssm_model.hpp"
#include "tests/support/fixture_file.hpp"
#include "tests/support/editable_model.hpp"
#include "tests/support/plain_check.hpp"

int main() {
    using namespace statestream;
    int passed = 0;
    const auto run = [&passed](const char* name, auto&& body) {
        const int before = test::plain_failures();
        body();
        if (test::plain_failures() == before) ++passed;
        std::printf("%s %s\n", test::plain_failures() == before ? "PASS" : "FAIL", name);
    };
    const std::string tiny = std::string(STATESTREAM_DATA_DIR) + "/models/tiny_mamba2.safetensors";

    run("tiny model loads", [&] {
        const auto model = models::ModelFile::load(tiny);
        SS_CHECK(model.description().architecture.layers.size() == 2);
        SS_CHECK(model.parameter_count() > 0);
    });
    run("hostile shape is refused by name", [&] {
        auto edit = test::EditableModel::from_bytes(test::read_file_bytes(tiny));
        edit.header["layers.0.mixer.A_log"]["shape"] = {2, 2};
        const test::AlignedBytes bytes(edit.bytes());
        std::string message;
        try {
            (void)models::ModelFile::parse(bytes.span(), "hostile");
        } catch (const models::ModelFileError& error) {
            message = error.what();
        }
        SS_CHECK(message.find("layers.0.mixer.A_log") != std::string::npos);
    });
    for (const char* name : {"mamba2_fixture", "mixed_fixture"}) {
        const std::string label = std::string(name) + ": 257 step() calls match the reference";
        run(label.c_str(), [&] {
            const std::string dir = std::string(STATESTREAM_DATA_DIR) + "/fixtures/";
            const auto file = models::ModelFile::load(dir + name + ".safetensors");
            const models::SsmModel model(file);
            const test::FixtureFile fixture(dir + name + ".T257.safetensors");
            models::StreamState state = model.make_state();
            for (std::size_t i = 0; i < model.state_layout().size(); ++i) {
                for (const auto& t : model.state_layout()[i]) {
                    const auto values = fixture.floats("initial.layers." + std::to_string(i) + "." + t.name);
                    const auto view = model.state_tensor(state, i, t.name);
                    SS_CHECK(values.size() == view.size());
                    std::copy(values.begin(), values.end(), view.begin());
                }
            }
            const auto x = fixture.floats("input");
            const auto want = fixture.doubles("output");
            std::vector<float> y(want.size());
            models::ModelWorkspace ws(model, 1);
            for (std::size_t t = 0; t < 257; ++t) {
                model.step(state, ws, std::span(x).subspan(t * model.input_dim(), model.input_dim()),
                           std::span(y).subspan(t * model.output_dim(), model.output_dim()));
            }
            const double err = test::relative_error(y, want);
            std::printf("  output relative error %.2e (bound 1e-5)\n", err);
            SS_CHECK(err < 1e-5);
        });
    }
    const auto gpus = models::cuda::list_cuda_devices();
    if (gpus.devices.empty()) {
        std::printf("SKIPPED: CUDA device checks (%s)\n", gpus.why_none.c_str());
    } else {
        run("every CUDA device runs the probe kernel", [&] {
            for (const auto& device : gpus.devices) {
                std::printf("  [%d] %s compute %d.%d\n", device.index, device.name.c_str(),
                            device.compute_major, device.compute_minor);
                SS_CHECK(device.runs_kernels);
            }
        });
    }
    std::printf("%d passed, %d failed\n", passed, test::plain_failures() > 0 ? 1 : 0);
    return test::plain_failures() == 0 ? 0 : 1;
}
