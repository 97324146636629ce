// `statestream enhance`: speech enhancement with the shipped (or a given) SSM enhancer.
//
//   statestream enhance IN OUT                     a file: same rate, channels and length,
//                                                  aligned with the input
//   statestream enhance --input DEV --output DEV   live through PortAudio, with statistics;
//                                                  blocks the worker cannot finish in time
//                                                  are passed through unprocessed
//   statestream enhance --measure-latency          an impulse through the whole chain
//
// docs/enhance.md has the chain, the settings and the measured figures.

#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "apps/model_search.hpp"
#include "apps/streaming_run.hpp"
#include "apps/subcommand.hpp"
#include "engine/enhance_file.hpp"
#include "engine/enhancer_chain.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"

namespace statestream::apps {

namespace {

constexpr const char* kShippedModel = "enhancer.safetensors";

struct EnhanceArguments {
    std::string in;
    std::string out;
    std::string input_device;
    std::string output_device;
    std::string model;
    float strength = 1.0f;
    float attenuation_limit_db = 0.0f;
    std::uint32_t rate_hz = 0;
    double seconds = 0.0;
    std::size_t frames_per_buffer = 0;
    double latency_ms = 0.0;
    std::size_t max_backlog_steps = 2;
    bool measure_latency = false;
    bool json = false;
};

struct LoadedEnhancer {
    models::ModelFile file;
    std::unique_ptr<models::SsmModel> model;
};

LoadedEnhancer load_enhancer(const EnhanceArguments& args) {
    const std::filesystem::path path =
        args.model.empty() ? find_shipped_model(kShippedModel) : std::filesystem::path(args.model);
    LoadedEnhancer loaded{models::ModelFile::load(path), nullptr};
    loaded.model = std::make_unique<models::SsmModel>(loaded.file);
    try {
        engine::require_enhancer_model(*loaded.model);
    } catch (const std::invalid_argument& error) {
        throw BadInputError(error.what());
    }
    return loaded;
}

engine::EnhancerSettings settings_of(const EnhanceArguments& args) {
    engine::EnhancerSettings settings;
    settings.strength = args.strength;
    settings.attenuation_limit_db = args.attenuation_limit_db;
    try {
        engine::validate(settings);
    } catch (const std::invalid_argument& error) {
        throw BadInputError(error.what());
    }
    return settings;
}

std::string device_spec(const std::string& name) {
    return name.rfind("device:", 0) == 0 ? name : "device:" + name;
}

ExitCode measure_latency(const EnhanceArguments& args) {
    const LoadedEnhancer enhancer = load_enhancer(args);
    engine::EnhancerChainConfig config;
    config.rate_hz = args.rate_hz != 0 ? args.rate_hz
                                       : enhancer.file.description().frontend.sample_rate_hz;
    config.settings = settings_of(args);
    const engine::MeasuredDelay delay = engine::measure_impulse_delay(*enhancer.model, config);
    if (args.json) {
        const nlohmann::json doc = {{"schema", "statestream.latency/1"},
                                    {"rate_hz", config.rate_hz},
                                    {"measured_samples", delay.samples},
                                    {"measured_ms", delay.seconds * 1e3},
                                    {"stages_ms", delay.stages_seconds * 1e3}};
        fmt::print("{}\n", doc.dump());
    } else {
        fmt::print("latency at {} Hz: {} samples = {:.3f} ms, measured by an impulse through the "
                   "whole chain (the stages claim {:.3f} ms)\n",
                   config.rate_hz, delay.samples, delay.seconds * 1e3, delay.stages_seconds * 1e3);
    }
    return ExitCode::kSuccess;
}

ExitCode enhance_one_file(const EnhanceArguments& args) {
    const LoadedEnhancer enhancer = load_enhancer(args);
    const engine::EnhancerSettings settings = settings_of(args);
    engine::EnhanceFileReport report;
    try {
        report = engine::enhance_file(*enhancer.model, args.in, args.out, settings);
    } catch (const engine::AudioFileWriteError& error) {
        // Disk full or an I/O error: exit 1, and the message already names the partial file.
        throw std::runtime_error(error.what());
    } catch (const engine::AudioFileError& error) {
        // A run that failed while writing leaves what it wrote (engine/io/audio_file.hpp).
        const std::string partial = args.out + ".partial";
        if (std::filesystem::exists(partial)) {
            throw BadInputError(fmt::format("{} (the output up to this point is kept in '{}')",
                                            error.what(), partial));
        }
        throw BadInputError(error.what());
    } catch (const std::invalid_argument& error) {
        throw BadInputError(fmt::format("'{}': {}", args.in, error.what()));
    }
    const double audio_s = static_cast<double>(report.frames) / report.format.rate_hz;
    const double per_channel_cpu = report.process_cpu_seconds / report.format.channels;
    const double speed = per_channel_cpu > 0.0 ? audio_s / per_channel_cpu : 0.0;
    if (args.json) {
        const nlohmann::json doc = {{"schema", "statestream.enhance/1"},
                                    {"input", args.in},
                                    {"output", args.out},
                                    {"rate_hz", report.format.rate_hz},
                                    {"channels", report.format.channels},
                                    {"frames", report.frames},
                                    {"delay_samples", report.delay.samples},
                                    {"process_cpu_s", report.process_cpu_seconds},
                                    {"realtime_factor_per_channel", speed}};
        fmt::print("{}\n", doc.dump());
    } else {
        fmt::print("{} -> {}: {:.2f} s, {} Hz, {} channel(s); {:.3f} s CPU ({:.0f}x real time "
                   "per channel); chain delay {} samples ({:.2f} ms, measured) removed, output "
                   "aligned with the input\n",
                   args.in, args.out, audio_s, report.format.rate_hz, report.format.channels,
                   report.process_cpu_seconds, speed, report.delay.samples,
                   report.delay.seconds * 1e3);
    }
    return ExitCode::kSuccess;
}

ExitCode enhance_live(const EnhanceArguments& args) {
    if (args.input_device.empty() || args.output_device.empty()) {
        throw BadInputError("live enhancement needs both --input DEVICE and --output DEVICE "
                            "(see `statestream devices`); for files give IN OUT");
    }
    const LoadedEnhancer enhancer = load_enhancer(args);
    engine::EnhancerChainConfig config;
    config.rate_hz = args.rate_hz != 0 ? args.rate_hz
                                       : enhancer.file.description().frontend.sample_rate_hz;
    config.settings = settings_of(args);
    std::unique_ptr<engine::Pipeline> chain;
    try {
        chain = engine::make_enhancer_chain(*enhancer.model, config);
    } catch (const std::invalid_argument& error) {
        throw BadInputError(error.what());
    }
    fmt::print(stderr, "{}", chain->describe());

    engine::WorkerConfig worker;
    worker.policy = engine::OverloadPolicy::kPassThrough;
    worker.max_backlog_steps = args.max_backlog_steps;
    engine::RunOptions options;
    options.source = device_spec(args.input_device);
    options.sink = device_spec(args.output_device);
    if (args.seconds > 0.0) options.max_seconds = args.seconds;
    options.frames_per_buffer = args.frames_per_buffer;
    options.suggested_latency_s = args.latency_ms / 1e3;
    return run_with_signals("enhance", *chain, worker, options, args.json);
}

ExitCode run_enhance(const EnhanceArguments& args) {
    const bool files = !args.in.empty() || !args.out.empty();
    const bool live = !args.input_device.empty() || !args.output_device.empty();
    if (args.measure_latency) {
        if (files || live) throw BadInputError("--measure-latency takes no input or output");
        return measure_latency(args);
    }
    if (files && live) {
        throw BadInputError("give either IN OUT (files) or --input/--output (devices), not both");
    }
    if (live) return enhance_live(args);
    if (args.in.empty() || args.out.empty()) {
        throw BadInputError("give IN OUT (files), or --input DEVICE --output DEVICE (live), or "
                            "--measure-latency; see statestream enhance --help");
    }
    if (args.rate_hz != 0) {
        throw BadInputError("--rate is for live devices; a file keeps its own rate");
    }
    return enhance_one_file(args);
}

}  // namespace

Subcommand add_enhance_command(CLI::App& parent) {
    auto args = std::make_shared<EnhanceArguments>();
    CLI::App* cli = parent.add_subcommand(
        "enhance",
        "Remove noise from speech with an SSM enhancer: files (any format libsndfile reads; same "
        "rate, channels and length out, aligned) or live between audio devices. 10 ms algorithmic "
        "latency at 48 kHz (--measure-latency shows it).");
    cli->add_option("in", args->in, "Input audio file (WAV, FLAC, Ogg, AIFF, ...)")
        ->check(CLI::ExistingFile);
    cli->add_option("out", args->out, "Output file, .wav (32-bit float) or .flac (24-bit)");
    cli->add_option("--input,-i", args->input_device,
                    "Live: capture device (NAME, INDEX or default; see statestream devices)");
    cli->add_option("--output,-o", args->output_device, "Live: playback device");
    cli->add_option("--model,-m", args->model,
                    "Enhancer model file (default: the shipped data/models/enhancer.safetensors)");
    cli->add_option("--strength", args->strength,
                    "0 passes speech and noise through, 1 applies the model fully")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    cli->add_option("--atten-limit-db", args->attenuation_limit_db,
                    "Attenuate no band by more than this many dB (0: no limit); 12-20 keeps some "
                    "natural background")
        ->check(CLI::Range(0.0, 200.0))
        ->capture_default_str();
    cli->add_option("--rate", args->rate_hz,
                    "Live or --measure-latency: the device rate in Hz (default: the model's, 48000)")
        ->check(CLI::Range(8000, 192000));
    cli->add_option("--seconds", args->seconds, "Live: stop after this much input")
        ->check(CLI::NonNegativeNumber);
    cli->add_option("--frames-per-buffer", args->frames_per_buffer,
                    "Live: host frames per audio callback (0: the host's choice)");
    cli->add_option("--latency-ms", args->latency_ms,
                    "Live: suggested device latency (0: the device's default low latency)")
        ->check(CLI::NonNegativeNumber);
    cli->add_option("--max-backlog", args->max_backlog_steps,
                    "Live: 10 ms blocks that may wait before late ones pass through unprocessed")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    cli->add_flag("--measure-latency", args->measure_latency,
                  "Send an impulse through the whole chain and print where it comes out");
    cli->add_flag("--json", args->json,
                  "Print the result (file, latency) or the final live statistics "
                  "(statestream.run/1) as one JSON object on stdout");
    return {cli, [args]() { return run_enhance(*args); }};
}

}  // namespace statestream::apps
