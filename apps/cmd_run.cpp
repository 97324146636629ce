// `statestream run PIPELINE.json`: any pipeline from its description, from a file or a live
// device to a file or a device. Ctrl-C stops it cleanly (output finished, statistics printed);
// SIGUSR1 prints the statistics so far as one JSON line on stderr.

#include <memory>

#include <fmt/core.h>

#include "apps/streaming_run.hpp"
#include "apps/subcommand.hpp"
#include "engine/pipeline_description.hpp"
#include "engine/stream_runner.hpp"

namespace statestream::apps {

namespace {

struct RunArguments {
    std::string description;
    std::string input;
    std::string output;
    double seconds = 0.0;
    std::size_t frames_per_buffer = 0;
    double latency_ms = 0.0;
    bool stats_json = false;
};

ExitCode run_pipeline(const RunArguments& args) {
    engine::PipelineDescription description;
    try {
        description = engine::load_pipeline_description(args.description);
    } catch (const engine::PipelineDescriptionError& error) {
        throw BadInputError(error.what());
    }
    engine::RunOptions options;
    options.source = !args.input.empty() ? args.input : description.source.value_or("");
    options.sink = !args.output.empty() ? args.output : description.sink.value_or("");
    if (options.source.empty()) {
        throw BadInputError("no input: give --input FILE or --input device:NAME (or \"source\" in "
                            "the description)");
    }
    if (options.sink.empty()) {
        throw BadInputError("no output: give --output FILE (.wav, .flac, .csv), --output "
                            "device:NAME or --output none (or \"sink\" in the description)");
    }
    if (args.seconds > 0.0) options.max_seconds = args.seconds;
    options.frames_per_buffer = args.frames_per_buffer;
    options.suggested_latency_s = args.latency_ms / 1e3;

    const std::filesystem::path base = std::filesystem::path(args.description).parent_path();
    engine::BuiltPipeline built;
    try {
        built = engine::build_pipeline(description, base);
    } catch (const engine::PipelineDescriptionError& error) {
        throw BadInputError(fmt::format("{}: {}", args.description, error.what()));
    }
    fmt::print(stderr, "{}", built.pipeline->describe());

    return run_with_signals("run", *built.pipeline, description.realtime, options, args.stats_json);
}

}  // namespace

Subcommand add_run_command(CLI::App& parent) {
    auto args = std::make_shared<RunArguments>();
    CLI::App* cli = parent.add_subcommand(
        "run", "Run a pipeline from its JSON description (docs/pipelines.md) from a file or a "
               "live device to a file or a device. Ctrl-C stops cleanly; SIGUSR1 prints "
               "statistics so far.");
    cli->add_option("description", args->description, "Pipeline description (.json)")
        ->required()
        ->check(CLI::ExistingFile);
    cli->add_option("--input,-i", args->input,
                    "Audio file (any format libsndfile reads) or device:NAME|INDEX|default");
    cli->add_option("--output,-o", args->output,
                    "Output .wav/.flac (audio), .csv (vectors), device:NAME|INDEX|default, or none");
    cli->add_option("--seconds", args->seconds, "Stop after this much input (live devices)")
        ->check(CLI::NonNegativeNumber);
    cli->add_option("--frames-per-buffer", args->frames_per_buffer,
                    "Host frames per audio callback (0: the host's choice; JACK: its period)");
    cli->add_option("--latency-ms", args->latency_ms,
                    "Suggested device latency (0: the device's default low latency)")
        ->check(CLI::NonNegativeNumber);
    cli->add_flag("--stats", args->stats_json,
                  "Print the final statistics as one JSON object (schema statestream.run/1) on "
                  "stdout instead of text on stderr");
    return {cli, [args]() { return run_pipeline(*args); }};
}

}  // namespace statestream::apps
