// `statestream batch enhance|transcribe INPUTS... --out DIR`: many files on all cores,
// resumable, with progress (docs/batch.md). The engine's runner (engine/batch/batch_runner.hpp)
// does the work; this file parses, builds the task, prints the progress and the summary, writes
// the report, and maps the outcome onto the exit codes:
//
//   0    every file done (now or in an earlier run)
//   2    bad usage or inputs (nothing was processed), or every file failed
//   3    some files failed, the others were done and kept
//   130  stopped by Ctrl-C or SIGTERM: finished outputs kept, the rest not written; rerun to resume

#include <atomic>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>

#include <unistd.h>

#include <fmt/core.h>

#include "apps/model_search.hpp"
#include "apps/subcommand.hpp"
#include "apps/transcriber_setup.hpp"
#include "engine/batch/atomic_file.hpp"
#include "engine/batch/batch_report.hpp"
#include "engine/batch/batch_runner.hpp"
#include "engine/batch/enhance_task.hpp"
#include "engine/batch/input_list.hpp"
#include "engine/batch/shard.hpp"
#include "engine/batch/transcribe_task.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"

namespace statestream::apps {

namespace {

namespace batch = engine::batch;

// The shell's convention for a process ended by SIGINT; scripts and Slurm read it as "stopped".
constexpr auto kInterrupted = static_cast<ExitCode>(128 + SIGINT);
// A terminal's bar is redrawn this often: smooth enough to look alive, rare enough to cost
// nothing beside the work.
constexpr double kBarRedrawSeconds = 0.25;
constexpr std::size_t kBarWidth = 24;

struct CommonArguments {
    std::vector<std::string> inputs;
    std::vector<std::string> manifests;
    std::string out;
    std::string report;
    std::string shard;
    std::string format;
    std::string model;
    std::size_t jobs = 0;
    std::size_t chunk_steps = 0;  // 0: the task's default
    bool force = false;
    bool step_by_step = false;
    double progress_every_s = 5.0;
    bool no_progress = false;
};

struct EnhanceBatchArguments {
    CommonArguments common;
    float strength = 1.0f;
    float attenuation_limit_db = 0.0f;
};

struct TranscribeBatchArguments {
    CommonArguments common;
    DecoderOptions decoder;
};

// Set by the signal handlers (a lock-free atomic is async-signal-safe), read by the workers.
std::atomic<bool> g_stop_requested{false};

extern "C" void on_batch_stop_signal(int) {
    g_stop_requested.store(true, std::memory_order_release);
    std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once, the usual way
}

// Installs the handlers for its lifetime, so an exception on the way out restores the defaults.
class StopSignals {
public:
    StopSignals() {
        g_stop_requested.store(false, std::memory_order_release);
        std::signal(SIGINT, on_batch_stop_signal);
        std::signal(SIGTERM, on_batch_stop_signal);  // what Slurm sends at the time limit or scancel
    }
    ~StopSignals() {
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
    }
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;
};

void add_common_options(CLI::App& cli, CommonArguments& args, const char* formats_help) {
    cli.add_option("inputs", args.inputs,
                   "Audio files, folders (searched recursively for audio files) and @MANIFEST "
                   "(a text file, one path per line)");
    cli.add_option("--out,-o", args.out, "Output folder; outputs mirror the inputs' tree below it")
        ->required();
    cli.add_option("--format,-f", args.format, formats_help);
    cli.add_option("--manifest", args.manifests,
                   "A text file with one input path per line (relative paths are taken from the "
                   "manifest's folder; '#' starts a comment line); may be repeated")
        ->check(CLI::ExistingFile);
    cli.add_option("--jobs,-j", args.jobs, "Files processed at once, each on its own thread (default: "
                                           "one per core this process may use)")
        ->check(CLI::Range(1, 1024));
    cli.add_option("--shard", args.shard,
                   "I/N: process only files I, I+N, I+2N, ... of the sorted list, so N machines "
                   "share one batch (0 <= I < N)");
    cli.add_flag("--force", args.force, "Process files whose output exists already (default: skip them)");
    cli.add_option("--report", args.report,
                   "Where the JSON report goes (default: OUT/batch-report.json, or "
                   "OUT/batch-report.shard-I-of-N.json with --shard)");
    cli.add_option("--model,-m", args.model, "Model file (default: the shipped one)");
    cli.add_flag("--step-by-step", args.step_by_step,
                 "Run the model one step() per 10 ms hop, as live streams do, instead of forward() "
                 "over chunks (slower; the same output up to float rounding)");
    cli.add_option("--chunk", args.chunk_steps, "Hops (10 ms each) per forward() call (default 16)")
        ->check(CLI::Range(1, 4096));
    cli.add_option("--progress-every", args.progress_every_s,
                   "When stderr is not a terminal: seconds between progress lines")
        ->check(CLI::Range(0.1, 86400.0))
        ->capture_default_str();
    cli.add_flag("--no-progress", args.no_progress, "No progress bar or lines (the summary still prints)");
}

models::ModelFile load_model_file(const std::string& given, const char* shipped) {
    return models::ModelFile::load(given.empty() ? find_shipped_model(shipped) : std::filesystem::path(given));
}

std::filesystem::path report_path_of(const CommonArguments& args, const batch::Shard& shard) {
    if (!args.report.empty()) return args.report;
    const std::string name = shard.count > 1
                                 ? fmt::format("batch-report.shard-{}-of-{}.json", shard.index, shard.count)
                                 : std::string("batch-report.json");
    return std::filesystem::path(args.out) / name;
}

// Progress on stderr: a bar redrawn in place on a terminal, a plain line every few seconds
// otherwise (a Slurm log, a pipe). Each failure is printed as it happens, above the bar.
class ProgressPrinter {
public:
    ProgressPrinter(bool enabled, double every_s)
        : enabled_(enabled), terminal_(::isatty(STDERR_FILENO) != 0), every_s_(every_s) {}

    [[nodiscard]] double tick_seconds() const { return terminal_ ? kBarRedrawSeconds : std::min(every_s_, 1.0); }

    void tick(const batch::BatchProgress& progress) {
        if (!enabled_) return;
        if (terminal_) {
            fmt::print(stderr, "\r\033[K{}", batch::progress_line(progress, kBarWidth));
            bar_shown_ = true;
        } else if (progress.elapsed_seconds >= next_line_s_) {
            fmt::print(stderr, "progress: {}\n", batch::progress_line(progress, 0));
            next_line_s_ = progress.elapsed_seconds + every_s_;
        }
        std::fflush(stderr);
    }
    void failed(const batch::FileRecord& record) {
        clear_bar();
        fmt::print(stderr, "statestream batch: {}\n", record.error);
        std::fflush(stderr);
    }
    void clear_bar() {
        if (!bar_shown_) return;
        fmt::print(stderr, "\r\033[K");
        bar_shown_ = false;
    }

private:
    bool enabled_;
    bool terminal_;
    double every_s_;
    double next_line_s_ = 0.0;
    bool bar_shown_ = false;
};

ExitCode run_batch_task(const batch::FileTask& task, const CommonArguments& args) {
    const std::filesystem::path out = args.out;
    batch::Shard shard;
    batch::InputList list;
    std::vector<batch::BatchItem> items;
    try {
        if (!args.shard.empty()) shard = batch::parse_shard(args.shard);
        batch::InputSpec spec;
        spec.paths = args.inputs;
        spec.manifests.assign(args.manifests.begin(), args.manifests.end());
        spec.exclude_folder = out;
        if (spec.paths.empty() && spec.manifests.empty()) {
            throw batch::BatchInputError("give audio files, folders, @MANIFEST or --manifest FILE");
        }
        list = batch::collect_inputs(spec);
        items = batch::select_shard(list.items, shard);
        batch::require_distinct_outputs(items, out, task.output_extension());
    } catch (const batch::BatchInputError& error) {
        throw BadInputError(error.what());
    }
    const std::filesystem::path report_path = report_path_of(args, shard);
    const batch::BatchDescription description{std::string(task.name()), task.describe(), out, shard,
                                              list.items.size()};

    batch::BatchOptions options;
    options.jobs = args.jobs;
    options.force = args.force;
    ProgressPrinter printer(!args.no_progress, args.progress_every_s);
    options.tick_seconds = printer.tick_seconds();
    fmt::print(stderr, "batch {}: {} files listed below '{}'{}; {}; {} jobs\n", task.name(),
               list.items.size(), list.common_folder.string(),
               shard.count > 1 ? fmt::format(", {} in shard {}/{}", items.size(), shard.index, shard.count)
                               : std::string(),
               task.describe(), options.jobs > 0 ? options.jobs : batch::available_cores());

    batch::BatchResult result;
    {
        const StopSignals signals;
        batch::BatchObserver observer;
        observer.tick = [&](const batch::BatchProgress& p) { printer.tick(p); };
        observer.file_failed = [&](const batch::FileRecord& r) { printer.failed(r); };
        result = batch::run_batch(task, items, out, options, g_stop_requested, observer);
    }
    printer.clear_bar();
    // The report first: a batch killed while printing still leaves its record.
    bool report_written = true;
    try {
        batch::write_file_atomically(report_path, batch::batch_report_json(result, description));
    } catch (const std::exception& error) {
        fmt::print(stderr, "statestream batch: the report was not written: {}\n", error.what());
        report_written = false;
    }
    fmt::print("{}", batch::batch_summary_text(result, description, report_path));
    std::fflush(stdout);
    if (!report_written) return ExitCode::kRuntimeFailure;

    if (result.interrupted) return kInterrupted;
    const std::size_t failed = result.count(batch::FileStatus::kFailed);
    if (failed == 0) return ExitCode::kSuccess;
    return failed == result.files.size() ? ExitCode::kBadInput : ExitCode::kPartialSuccess;
}

ExitCode run_enhance_batch(const EnhanceBatchArguments& args) {
    const std::string format = args.common.format.empty() ? "wav" : args.common.format;
    batch::EnhanceTaskConfig config;
    config.settings.strength = args.strength;
    config.settings.attenuation_limit_db = args.attenuation_limit_db;
    config.output_type = format == "flac" ? engine::AudioFileType::kFlac : engine::AudioFileType::kWav;
    config.calls = args.common.step_by_step ? batch::ModelCalls::kStepByStep : batch::ModelCalls::kChunked;
    if (args.common.chunk_steps > 0) config.chunk_hops = args.common.chunk_steps;
    const models::ModelFile file = load_model_file(args.common.model, "enhancer.safetensors");
    const models::SsmModel model(file);
    std::unique_ptr<batch::EnhanceTask> task;
    try {
        task = std::make_unique<batch::EnhanceTask>(model, config);
    } catch (const std::invalid_argument& error) {
        throw BadInputError(error.what());
    }
    return run_batch_task(*task, args.common);
}

ExitCode run_transcribe_batch(const TranscribeBatchArguments& args) {
    const std::string format = args.common.format.empty() ? "txt" : args.common.format;
    const std::filesystem::path model_path = args.common.model.empty()
                                                 ? find_shipped_model(kShippedTranscriber)
                                                 : std::filesystem::path(args.common.model);
    const models::ModelFile file = models::ModelFile::load(model_path);
    const models::SsmModel model(file);
    try {
        engine::require_transcriber_model(model);
    } catch (const std::invalid_argument& error) {
        throw BadInputError(error.what());
    }
    DecoderChoice decoder = choose_decoder(args.decoder, model, model_path);
    fmt::print(stderr, "decoder: {}\n", decoder.description);
    batch::TranscribeTaskConfig config;
    config.format = engine::parse_transcript_format(format).value_or(engine::TranscriptFormat::kText);
    config.make_decoder = std::move(decoder.make);
    config.decoder_description = decoder.description;
    config.calls = args.common.step_by_step ? batch::ModelCalls::kStepByStep : batch::ModelCalls::kChunked;
    if (args.common.chunk_steps > 0) config.chunk_steps = args.common.chunk_steps;
    const batch::TranscribeTask task(model, std::move(config));
    return run_batch_task(task, args.common);
}

}  // namespace

Subcommand add_batch_command(CLI::App& parent) {
    CLI::App* cli = parent.add_subcommand(
        "batch",
        "Enhance or transcribe many files on all cores: files, folders (recursive) or manifests in, "
        "an output tree mirroring them; resumable (finished outputs are skipped), Ctrl-C safe "
        "(outputs appear only when complete), --shard I/N to split one job over N machines. "
        "Exit 3 when some files failed, 130 when stopped. docs/batch.md.");
    cli->require_subcommand(1);

    auto enhance = std::make_shared<EnhanceBatchArguments>();
    CLI::App* enhance_cli = cli->add_subcommand(
        "enhance", "Remove noise from speech in many files, as `statestream enhance` does for one: "
                   "same rate, channels and length, aligned; .wav (float) or .flac (24-bit) out.");
    add_common_options(*enhance_cli, enhance->common, "wav (32-bit float, the default) or flac (24-bit)");
    enhance_cli->get_option("--format")->check(CLI::IsMember({"wav", "flac"}));
    enhance_cli->add_option("--strength", enhance->strength,
                            "0 passes speech and noise through, 1 applies the model fully")
        ->check(CLI::Range(0.0, 1.0))
        ->capture_default_str();
    enhance_cli->add_option("--atten-limit-db", enhance->attenuation_limit_db,
                            "Attenuate no band by more than this many dB (0: no limit)")
        ->check(CLI::Range(0.0, 200.0))
        ->capture_default_str();

    auto transcribe = std::make_shared<TranscribeBatchArguments>();
    CLI::App* transcribe_cli = cli->add_subcommand(
        "transcribe", "Speech to text for many files, as `statestream transcribe` does for each: one "
                      "output per file, as text, a JSON line with word times, SRT or WebVTT.");
    add_common_options(*transcribe_cli, transcribe->common, "txt (the default), jsonl, srt or vtt");
    // "text" as well: what `statestream transcribe --format` calls it.
    transcribe_cli->get_option("--format")->check(CLI::IsMember({"txt", "text", "jsonl", "srt", "vtt"}));
    add_decoder_options(*transcribe_cli, transcribe->decoder);
    transcribe_cli->add_option("--lm-weight", transcribe->decoder.beam.lm_weight,
                               "Beam search: weight of the LM's log-probability of each word")
        ->capture_default_str();
    transcribe_cli->add_option("--word-bonus", transcribe->decoder.beam.word_bonus,
                               "Beam search: nats added per word")
        ->capture_default_str();

    return {cli, [enhance, enhance_cli, transcribe]() {
                if (enhance_cli->parsed()) return run_enhance_batch(*enhance);
                return run_transcribe_batch(*transcribe);
            }};
}

}  // namespace statestream::apps
