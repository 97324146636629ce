// The CLI contract of docs/cli.md, checked by running the real `statestream` binary: help and
// version, the exit-code table, JSON schemas, and one clear error for each bad model file.

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/block_state.hpp"
#include "models/model_file.hpp"
#include "tests/support/editable_model.hpp"
#include "tests/support/run_process.hpp"

using statestream::test::run_process;
using Catch::Matchers::Contains;

namespace {

const std::string kExe = STATESTREAM_EXE;
const std::filesystem::path kTinyModel =
    std::filesystem::path(STATESTREAM_DATA_DIR) / "models" / "tiny_mamba2.safetensors";
const std::vector<std::string> kSubcommands = {"enhance", "transcribe", "forecast", "batch",
                                               "run",     "bench",      "devices",  "info"};

statestream::test::ProcessResult run(std::vector<std::string> args) {
    args.insert(args.begin(), kExe);
    return run_process(args);
}

}  // namespace

TEST_CASE("CLI: --version names the version and the build", "[integration][cli]") {
    const auto r = run({"--version"});
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.out, Contains("statestream 0.1.0") && Contains("commit"));
}

TEST_CASE("CLI: --help on the program and every subcommand", "[integration][cli]") {
    const auto top = run({"--help"});
    REQUIRE(top.exit_code == 0);
    for (const auto& name : kSubcommands) {
        INFO("subcommand " << name);
        CHECK_THAT(top.out, Contains(name));
        const auto r = run({name, "--help"});
        CHECK(r.exit_code == 0);
        CHECK_THAT(r.out, Contains(name) && Contains("--help"));
    }
}

TEST_CASE("CLI: usage errors exit 2", "[integration][cli]") {
    SECTION("no subcommand") {
        const auto r = run({});
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.err, Contains("subcommand"));
    }
    SECTION("unknown subcommand") { CHECK(run({"frobnicate"}).exit_code == 2); }
    SECTION("unknown option") { CHECK(run({"info", "--no-such-flag", kTinyModel.string()}).exit_code == 2); }
    SECTION("missing argument") {
        const auto r = run({"info"});
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.err, Contains("MODEL"));
    }
}

TEST_CASE("CLI: bench needs a benchmark name and lists ssm, dsp and engine", "[integration][cli]") {
    CHECK(run({"bench"}).exit_code == 2);
    CHECK(run({"bench", "nonexistent"}).exit_code == 2);
    const auto help = run({"bench", "--help"});
    CHECK(help.exit_code == 0);
    CHECK_THAT(help.out, Contains("ssm") && Contains("dsp") && Contains("engine"));
    CHECK(run({"bench", "engine", "--seconds", "0"}).exit_code == 2);
    CHECK(run({"bench", "ssm", "--seconds", "0"}).exit_code == 2);  // outside 0.01..60
    CHECK(run({"bench", "dsp", "--seconds", "0"}).exit_code == 2);
    const auto dsp = run({"bench", "dsp", "--seconds", "0.01"});
    CHECK(dsp.exit_code == 0);
    CHECK_THAT(dsp.out, Contains("baseline: same chain, FFTW_ESTIMATE plans made per call") &&
                            Contains("faster than plans per call"));
}

TEST_CASE("CLI: bench transcribe --json reports the chain, the streams and the live replay",
          "[integration][cli][json]") {
    const auto r = run({"bench", "transcribe", "--json", "--seconds", "0.01", "--max-streams", "2"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto doc = nlohmann::json::parse(r.out);
    CHECK(doc.at("schema") == "statestream.bench.transcribe/2");
    // The default decoder, as transcribe picks it: the beam search with the shipped word LM,
    // measured beside greedy; the streams and the replay run the default one.
    CHECK(doc.at("decoder").at("name") == "beam+lm");
    CHECK_THAT(doc.at("decoder").at("description").get<std::string>(), Contains("transcriber.lm.arpa"));
    REQUIRE(doc.at("chains").size() == 2);
    CHECK(doc.at("chains").at("beam+lm") == doc.at("chain"));
    CHECK(doc.at("chains").at("greedy").at("decoder") == "greedy");
    CHECK(doc.at("streams").at("decoder") == "beam+lm");
    CHECK(doc.at("replay").at("decoder") == "beam+lm");
    CHECK_THAT(doc.at("input").at("path").get<std::string>(), Contains("speech_16k.wav"));
    const auto& chain = doc.at("chain");
    CHECK(chain.at("rtfx").get<double>() == Approx(1.0 / chain.at("rtf").get<double>()));
    const auto& step = chain.at("step_us");
    CHECK(step.at("p50").get<double>() <= step.at("p99").get<double>());
    CHECK(step.at("p99").get<double>() <= step.at("max").get<double>());
    // 10 ms hop + no look-ahead for the shipped model's 16 kHz log-mel on a 16 kHz file.
    CHECK(doc.at("latency").at("algorithmic_ms").get<double>() == Approx(10.0));
    const auto& rows = doc.at("streams").at("rows");
    REQUIRE(rows.size() == 2);  // N = 1 and 2, then --max-streams stops the search
    CHECK(rows.at(0).at("streams") == 1);
    CHECK(rows.at(1).at("streams") == 2);
    CHECK(doc.at("replay").at("endpoint_s").get<double>() == Approx(0.8));
    CHECK(doc.contains("baseline"));  // pocketsphinx's figures, or why it did not run

    const auto greedy = run({"bench", "transcribe", "--replay", "--lm", "none"});
    REQUIRE(greedy.exit_code == 0);
    CHECK_THAT(greedy.out, Contains("\"decoder\":\"greedy\"") && !Contains("beam+lm"));
    const auto bad_beam = run({"bench", "transcribe", "--beam", "0"});
    CHECK(bad_beam.exit_code == 2);
    CHECK_THAT(bad_beam.err, Contains("--beam 1..256"));

    const auto not_transcriber = run({"bench", "transcribe", "--model", kTinyModel.string()});
    CHECK(not_transcriber.exit_code == 2);
    CHECK_THAT(not_transcriber.err, Contains("tiny_mamba2.safetensors") && Contains("not a transcriber"));
}

TEST_CASE("CLI: info prints architecture, parameters, state bytes and front-end", "[integration][cli]") {
    const auto r = run({"info", kTinyModel.string()});
    REQUIRE(r.exit_code == 0);
    const auto model = statestream::models::ModelFile::load(kTinyModel);
    CHECK_THAT(r.out, Contains("mamba2") && Contains("front-end      log_mel: 16000 Hz") &&
                          Contains("parameters     " + std::to_string(model.parameter_count())) &&
                          Contains("state/stream"));
}

TEST_CASE("CLI: info --json carries its schema and the model's figures", "[integration][cli][json]") {
    const auto r = run({"info", "--json", kTinyModel.string()});
    REQUIRE(r.exit_code == 0);
    const auto doc = nlohmann::json::parse(r.out);
    CHECK(doc.at("schema") == "statestream.info/2");
    const auto model = statestream::models::ModelFile::load(kTinyModel);
    CHECK(doc.at("parameter_count").get<std::uint64_t>() == model.parameter_count());
    CHECK(doc.at("state_bytes_per_stream").get<std::uint64_t>() ==
          statestream::models::state_size_per_stream(model.description().architecture).bytes());
    CHECK(doc.at("architecture").at("layers").size() == 2);
    CHECK(doc.at("frontend").at("type") == "log_mel");
}

TEST_CASE("CLI: info of a mixed-block model lists every block type and its state bytes",
          "[integration][cli][json]") {
    const auto path = std::filesystem::path(STATESTREAM_DATA_DIR) / "fixtures" / "mixed_fixture.safetensors";
    const auto r = run({"info", "--json", path.string()});
    REQUIRE(r.exit_code == 0);
    const auto doc = nlohmann::json::parse(r.out);
    std::vector<std::string> types;
    std::uint64_t layer_bytes = 0;
    for (const auto& layer : doc.at("architecture").at("layers")) {
        types.push_back(layer.at("type").get<std::string>());
        layer_bytes += layer.at("state_bytes").get<std::uint64_t>();
    }
    CHECK(types == std::vector<std::string>{"mamba3", "mamba3", "mamba1", "attention", "mamba2"});
    CHECK(doc.at("architecture").at("layers").at(1).at("mimo_rank") == 3);
    const auto model = statestream::models::ModelFile::load(path);
    const auto bytes = statestream::models::state_size_per_stream(model.description().architecture).bytes();
    CHECK(doc.at("state_bytes_per_stream").get<std::uint64_t>() == bytes);
    CHECK(layer_bytes == bytes);
    const auto text = run({"info", path.string()});
    CHECK_THAT(text.out, Contains("MIMO rank 3") && Contains("attention  2 heads") &&
                             Contains("state/stream   " + std::to_string(bytes) + " bytes"));
}

TEST_CASE("CLI: devices --json carries its schema", "[integration][cli][json]") {
    const auto r = run({"devices", "--json"});
    REQUIRE(r.exit_code == 0);
    const auto doc = nlohmann::json::parse(r.out);
    CHECK(doc.at("schema") == "statestream.devices/1");
    CHECK(doc.at("audio").is_array());
    CHECK(doc.at("cuda").at("devices").is_array());
}

TEST_CASE("CLI: bad model files exit 2 with one clear error", "[integration][cli][hostile]") {
    const auto dir = std::filesystem::temp_directory_path();
    SECTION("missing file") {
        const auto r = run({"info", "no/such.safetensors"});
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.err, Contains("statestream info: no/such.safetensors: cannot open"));
    }
    SECTION("shape mismatch") {
        auto model = statestream::test::EditableModel::from_bytes(
            statestream::test::read_file_bytes(kTinyModel));
        model.header["layers.1.mixer.conv1d.weight"]["shape"] = {4, 24};
        const auto path = dir / "statestream-cli-shape.safetensors";
        statestream::test::write_file_bytes(path, model.bytes());
        const auto r = run({"info", path.string()});
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.err, Contains(path.string()) &&
                              Contains("tensor 'layers.1.mixer.conv1d.weight' has shape [4, 24], "
                                       "expected [24, 4]"));
        std::filesystem::remove(path);
    }
    SECTION("not a model at all") {
        const auto path = dir / "statestream-cli-text.safetensors";
        statestream::test::write_file_bytes(path, {std::byte{'h'}, std::byte{'i'}});
        const auto r = run({"info", path.string()});
        CHECK(r.exit_code == 2);
        CHECK_THAT(r.err, Contains("2 bytes long"));
        std::filesystem::remove(path);
    }
}
