// `statestream forecast --input FILE|-|udp://HOST:PORT`: quantile forecasts for many tick
// streams at once (docs/forecast.md). The source reads and parses ticks on its own thread and
// hands them to this (the model) thread through a lock-free ring; the forecaster steps every
// stream that ticked in batches on oneTBB, and each tick of each stream becomes one line of
// q10/q50/q90 for horizons 1..H. Bad lines are reported and skipped (exit 3), Ctrl-C or SIGTERM
// stops cleanly, and --state-dir lets the next run continue where this one stopped.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include "apps/forecast_plot.hpp"
#include "apps/json_schema.hpp"
#include "apps/model_search.hpp"
#include "apps/subcommand.hpp"
#include "apps/tick_reader_thread.hpp"
#include "engine/forecast/stream_forecaster.hpp"
#include "engine/io/forecast_line_format.hpp"
#include "engine/io/line_sink.hpp"
#include "engine/io/tick_source.hpp"
#include "engine/spsc_ring.hpp"
#include "engine/thread_cpu_clock.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"

namespace statestream::apps {

namespace {

namespace forecast = engine::forecast;
namespace io = engine::io;

constexpr const char* kShippedForecaster = "forecaster.safetensors";
constexpr int kStatsSchemaVersion = 1;
// Ticks in flight between the reader and the model thread: 48 bytes each, so 3 MiB, which holds
// a burst of a second of 64k ticks/s while the model thread works through a batch.
constexpr std::size_t kRingTicks = 1 << 16;
// Ticks the model thread takes per process() call: one forecaster pass (kDefaultMaxPassTicks),
// large enough that each round of the pass batches many streams.
constexpr std::size_t kBatchTicks = forecast::kDefaultMaxPassTicks;
// A feed of garbage could print millions of lines; after these, bad lines are counted only (the
// summary gives the count by kind).
constexpr std::uint64_t kPrintedBadLines = 1000;
// Distinct stream ids per slot a run may see when streams are evicted: a pool of 1024 slots
// serves 16384 streams over a run; beyond that, new ids are bad lines of kind stream_id.
constexpr std::size_t kIdsPerSlot = 16;

struct ForecastArguments {
    std::string input;
    std::string model;
    std::uint32_t horizon = 0;  // 0: every horizon of the model
    std::uint32_t season = 0;
    std::string format = "csv";
    std::string output = "-";
    std::string udp_packing = "packed";
    std::size_t max_streams = io::kDefaultMaxStreams;
    std::string evict = "refuse";
    double idle_seconds = 0.0;
    std::string state_dir;
    bool no_adapt = false;
    std::vector<std::string> covariates;
    std::size_t threads = 0;
    bool stats_json = false;
    std::string plot_png;
    std::string plot_stream;
};

// Set by the signal handler; the source's stop() only write()s to a pipe, so it is safe there.
std::atomic<io::TickSource*> g_source{nullptr};
std::atomic<bool> g_stop_requested{false};

extern "C" void on_forecast_stop_signal(int) {
    g_stop_requested.store(true, std::memory_order_release);
    if (io::TickSource* source = g_source.load(std::memory_order_acquire)) source->stop();
    std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once, the usual way
}

class SignalScope {
public:
    explicit SignalScope(io::TickSource& source) {
        g_stop_requested.store(false, std::memory_order_relaxed);
        g_source.store(&source, std::memory_order_release);
        std::signal(SIGINT, on_forecast_stop_signal);
        std::signal(SIGTERM, on_forecast_stop_signal);
    }
    ~SignalScope() {
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
        g_source.store(nullptr, std::memory_order_release);
    }
    SignalScope(const SignalScope&) = delete;
    SignalScope& operator=(const SignalScope&) = delete;
};

io::TickSource open_source(const std::string& input, const io::TickFormat& format) {
    try {
        if (input == "-") return io::TickSource::open_stdin(format);
        if (input.rfind("udp://", 0) == 0) return io::TickSource::open_udp(input.substr(6), format);
        return io::TickSource::open_file(input, format);
    } catch (const io::TickSourceError& error) {
        throw BadInputError(error.what());
    } catch (const std::invalid_argument& error) {  // the covariate declaration
        throw BadInputError(fmt::format("--covariates: {}", error.what()));
    }
}

// What the options ask of the model, checked against its "forecast" entry before anything runs,
// so the message names the option, the model and the range.
void check_against_model(const ForecastArguments& args, const models::ModelFile& file,
                         const std::filesystem::path& path) {
    const models::ModelDescription& description = file.description();
    if (description.task != models::Task::kForecast) {
        throw BadInputError(fmt::format(
            "{}: a {} model, not a forecasting model (task \"forecast\", docs/forecast.md); give "
            "--model a forecaster such as data/models/{}", path.string(),
            models::task_name(description.task), kShippedForecaster));
    }
    const models::ForecastSpec& spec = description.forecast;
    if (args.horizon > spec.horizon) {
        throw BadInputError(fmt::format("--horizon {} is beyond the model's horizon {} ({}); give "
                                        "1..{}, or leave it out for all {}", args.horizon, spec.horizon,
                                        path.string(), spec.horizon, spec.horizon));
    }
    if (args.season == 1 || args.season > spec.max_season) {
        throw BadInputError(fmt::format("--season {} is not a season this model takes ({}: max_season "
                                        "{}); give 0 for none, or 2..{}", args.season, path.string(),
                                        spec.max_season, spec.max_season));
    }
}

struct RunTotals {
    io::TickSourceReport source;
    double wall_seconds = 0.0;
    double model_thread_cpu_seconds = 0.0;
    double reader_cpu_seconds = 0.0;
    std::uint64_t bad_lines_printed = 0;
    std::size_t saved_at_end = 0;
    bool stopped_by_signal = false;
};

double process_cpu_seconds() noexcept {
    timespec now{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

void print_messages(forecast::StreamForecaster& forecaster) {
    for (const std::string& message : forecaster.take_messages()) {
        fmt::print(stderr, "statestream forecast: {}\n", message);
    }
}

nlohmann::ordered_json stats_json(const RunTotals& run, const forecast::StreamForecaster& forecaster,
                                  const io::LineSinkReport& sink, std::size_t streams_seen,
                                  double process_cpu) {
    const forecast::ForecasterStats& s = forecaster.stats();
    nlohmann::ordered_json doc = json_document("forecast", kStatsSchemaVersion);
    nlohmann::ordered_json by_kind = nlohmann::ordered_json::object();
    for (std::size_t k = 0; k < io::kTickErrorKinds; ++k) {
        by_kind[std::string(io::to_string(static_cast<io::TickErrorKind>(k)))] = run.source.bad_by_kind[k];
    }
    doc["source"] = {{"name", run.source.source}, {"lines", run.source.lines}, {"ticks", run.source.ticks},
                     {"gaps", run.source.gaps}, {"bad_lines", run.source.bad_lines},
                     {"bad_by_kind", by_kind}, {"datagrams", run.source.datagrams},
                     {"failure", run.source.failure}};
    doc["forecaster"] = {{"horizon", forecaster.horizon()}, {"streams_seen", streams_seen},
                         {"ticks", s.ticks}, {"forecasts", s.forecasts},
                         {"ticks_before_value", s.ticks_before_value}, {"refused", s.refused},
                         {"streams_started", s.streams_started}, {"streams_live", s.streams_live},
                         {"evicted", s.evicted}, {"evicted_dropped", s.evicted_dropped},
                         {"restored", s.restored}, {"restore_failures", s.restore_failures},
                         {"saved", s.saved}, {"save_failures", s.save_failures},
                         {"bytes_per_stream", s.bytes_per_stream}};
    doc["output"] = {{"target", sink.target}, {"lines", sink.lines}, {"bytes", sink.bytes},
                     {"datagrams", sink.datagrams}, {"lines_lost", sink.lines_lost},
                     {"first_error", sink.first_error}};
    doc["timing"] = {{"wall_s", run.wall_seconds}, {"model_thread_cpu_s", run.model_thread_cpu_seconds},
                     {"reader_cpu_s", run.reader_cpu_seconds}, {"process_cpu_s", process_cpu}};
    doc["stopped_by_signal"] = run.stopped_by_signal;
    return doc;
}

void print_summary(const RunTotals& run, const forecast::StreamForecaster& forecaster,
                   const io::LineSinkReport& sink, std::size_t streams_seen, const ForecastArguments& args) {
    const forecast::ForecasterStats& s = forecaster.stats();
    // The source's counts; not its summary(), which repeats the first bad line printed above.
    std::string kinds;
    for (std::size_t k = 0; k < io::kTickErrorKinds; ++k) {
        if (run.source.bad_by_kind[k] == 0) continue;
        kinds += fmt::format("{}{} {}", kinds.empty() ? " (" : ", ", run.source.bad_by_kind[k],
                             io::to_string(static_cast<io::TickErrorKind>(k)));
    }
    fmt::print(stderr, "forecast: {}: {} lines, {} ticks ({} gaps), {} bad lines{}{}\n", run.source.source,
               run.source.lines, run.source.ticks, run.source.gaps, run.source.bad_lines,
               kinds.empty() ? "" : kinds + ")",
               run.source.datagrams == 0 ? "" : fmt::format(", {} datagrams", run.source.datagrams));
    if (run.source.bad_lines > run.bad_lines_printed) {
        fmt::print(stderr, "forecast: {} bad lines were counted without a message (after the first {})\n",
                   run.source.bad_lines - run.bad_lines_printed, kPrintedBadLines);
    }
    fmt::print(stderr,
               "forecast: {} ticks of {} streams -> {} forecasts (horizons 1..{}) to {}; {} ticks "
               "before a stream's first value; {} refused for want of a free slot (--max-streams {})\n",
               s.ticks, streams_seen, s.forecasts, forecaster.horizon(), sink.target, s.ticks_before_value,
               s.refused, args.max_streams);
    const std::string dropped =
        s.evicted_dropped == 0 ? "" : fmt::format(" ({} of them lost: no --state-dir)", s.evicted_dropped);
    const std::string state =
        args.state_dir.empty() ? "no state dir"
                               : fmt::format("state dir {}: {} restored ({} snapshots refused), {} saved ({} "
                                             "at the end, {} failed)", args.state_dir, s.restored,
                                             s.restore_failures, s.saved, run.saved_at_end, s.save_failures);
    fmt::print(stderr, "forecast: {} streams live, {} evicted{}; {}\n", s.streams_live, s.evicted, dropped, state);
    if (sink.lines_lost != 0) {
        fmt::print(stderr, "statestream forecast: {}: {} of {} lines lost ({})\n", sink.target, sink.lines_lost,
                   sink.lines, sink.first_error);
    }
    const double per_tick_us = s.ticks == 0 ? 0.0 : run.model_thread_cpu_seconds * 1e6 / static_cast<double>(s.ticks);
    fmt::print(stderr,
               "forecast: {:.1f} ms wall; CPU: model thread {:.1f} ms ({:.2f} us per tick with formatting and "
               "output; oneTBB workers' share not in it), reader {:.1f} ms, whole process {:.1f} ms; state "
               "{:.1f} KiB per stream\n",
               run.wall_seconds * 1e3, run.model_thread_cpu_seconds * 1e3, per_tick_us, run.reader_cpu_seconds * 1e3,
               process_cpu_seconds() * 1e3, static_cast<double>(s.bytes_per_stream) / 1024.0);
    if (run.stopped_by_signal) fmt::print(stderr, "forecast: stopped by a signal; everything read was forecast\n");
}

// The plot's copy of its stream's forecasts, gone however the run ends.
struct TemporaryFile {
    std::filesystem::path path;
    ~TemporaryFile() {
        std::error_code ignored;  // already gone, or never made: nothing to clean up either way
        std::filesystem::remove(path, ignored);
    }
};

ExitCode run_forecast(const ForecastArguments& args) {
    const std::optional<io::ForecastLineFormat> format = io::parse_forecast_line_format(args.format);
    if (!format) throw BadInputError("--format: give csv or jsonl");
    const bool evict_idle = args.evict == "idle";
    if (!args.plot_stream.empty() && args.plot_png.empty()) {
        throw BadInputError("--plot-stream picks the stream of --plot; give --plot out.png too");
    }

    const std::filesystem::path model_path =
        args.model.empty() ? find_shipped_model(kShippedForecaster) : std::filesystem::path(args.model);
    const models::ModelFile file = models::ModelFile::load(model_path);
    check_against_model(args, file, model_path);
    const models::SsmModel model(file);
    const std::filesystem::path plot_script = args.plot_png.empty() ? std::filesystem::path{} : check_plot_tools();

    io::TickFormat tick_format;
    tick_format.covariates = args.covariates;
    // The parser's id table never forgets an id, while the pool frees slots: under eviction it
    // holds more ids than slots (kIdsPerSlot), or every stream after the first max_streams would
    // be a bad line. An id costs its name (64 bytes at most) and a timestamp, not a model state.
    const bool evicts = evict_idle || args.idle_seconds > 0;
    tick_format.max_streams = std::max(io::kDefaultMaxStreams, evicts ? kIdsPerSlot * args.max_streams
                                                                      : args.max_streams);
    io::TickSource source = open_source(args.input, tick_format);

    forecast::ForecasterOptions options;
    options.horizon = args.horizon;
    options.season = args.season;
    options.adapt = !args.no_adapt;
    options.max_streams = args.max_streams;
    options.when_full = evict_idle ? forecast::PoolFullPolicy::kEvictIdle : forecast::PoolFullPolicy::kRefuse;
    options.state_dir = args.state_dir;
    options.threads = args.threads;
    std::optional<forecast::StreamForecaster> forecaster_storage;
    try {
        forecaster_storage.emplace(model, source.stream_ids(), options);
    } catch (const std::invalid_argument& error) {
        throw BadInputError(error.what());
    } catch (const std::runtime_error& error) {  // the state directory cannot be created
        throw BadInputError(fmt::format("--state-dir: {}", error.what()));
    }
    forecast::StreamForecaster& forecaster = *forecaster_storage;
    const std::uint32_t horizon = forecaster.horizon();

    // Opened last, so a bad option never truncates an existing output file.
    std::unique_ptr<io::LineSink> sink;
    std::unique_ptr<io::LineSink> plot_sink;
    const TemporaryFile plot_csv{std::filesystem::temp_directory_path() /
                                 fmt::format("statestream-forecast-plot-{}.csv", ::getpid())};
    try {
        sink = io::LineSink::open(args.output, args.udp_packing == "line" ? io::DatagramPacking::kOneLine
                                                                          : io::DatagramPacking::kPacked);
        if (!args.plot_png.empty()) plot_sink = io::LineSink::open(plot_csv.path.string());
    } catch (const io::LineSinkError& error) {
        throw BadInputError(error.what());
    }
    const std::string header = io::forecast_header(*format, horizon);
    if (!header.empty()) sink->write_line(header);
    if (plot_sink) plot_sink->write_line(io::forecast_header(io::ForecastLineFormat::kCsv, horizon));

    fmt::print(stderr, "forecast: {} ({}), horizons 1..{}, season {}, adaptation {}; {} stream slots ({} "
               "when full{}); {} -> {} ({})\n",
               model_path.string(), file.description().recipe.name, horizon,
               args.season == 0 ? std::string("none") : std::to_string(args.season),
               args.no_adapt ? "off" : "on", args.max_streams, evict_idle ? "evict the least recently ticked" : "refuse",
               args.idle_seconds > 0 ? fmt::format(", evict after {} s without a tick", args.idle_seconds) : "",
               source.name(), sink->report().target, args.format);
    if (evict_idle && args.state_dir.empty()) {
        fmt::print(stderr, "forecast: --evict idle without --state-dir: an evicted stream's state is lost, and "
                           "it starts afresh if it comes back\n");
    }
    if (source.local_port() != 0) fmt::print(stderr, "forecast: listening on {}\n", source.name());
    std::fflush(stderr);

    // The plot's stream: the one named, else the first stream of the input (index 0).
    std::optional<std::uint32_t> plot_index;
    const auto is_plot_stream = [&](std::uint32_t stream) {
        if (!plot_sink) return false;
        if (plot_index) return *plot_index == stream;
        if (args.plot_stream.empty() ? stream == 0 : source.stream_ids().name(stream) == args.plot_stream) {
            plot_index = stream;
            return true;
        }
        return false;
    };

    RunTotals totals;
    engine::SpscRing<io::Tick> ring(kRingTicks);
    std::vector<io::Tick> batch(kBatchTicks);
    std::string line;
    std::string plot_line;
    const std::int64_t idle_ns = static_cast<std::int64_t>(args.idle_seconds * 1e9);
    std::int64_t idle_checked_at_ns = 0;
    const auto wall_start = std::chrono::steady_clock::now();
    const double cpu_start = engine::thread_cpu_seconds();
    {
        const SignalScope signals(source);
        TickReaderThread reader(source, ring, "forecast", kPrintedBadLines);
        for (;;) {
            const std::size_t n = ring.read(batch);
            if (n == 0) {
                if (reader.done()) {
                    if (ring.readable() == 0) break;  // the last pushes are visible after done()
                    continue;
                }
                sink->flush();  // caught up: a live reader sees every forecast made so far
                reader.wait_for_ticks();
                continue;
            }
            forecaster.process({batch.data(), n}, [&](const forecast::Forecast& f) {
                const std::string_view id = source.stream_ids().name(f.stream);
                line.clear();
                io::append_forecast_line(*format, id, f.time_ns, f.value, f.q10, f.q50, f.q90, line);
                sink->write_line(line);
                if (is_plot_stream(f.stream)) {
                    plot_line.clear();
                    io::append_forecast_line(io::ForecastLineFormat::kCsv, id, f.time_ns, f.value, f.q10,
                                             f.q50, f.q90, plot_line);
                    plot_sink->write_line(plot_line);
                }
            });
            // Idle streams, in tick time: checked each time the newest tick has moved on by a
            // sixteenth of the idle time, so a stream goes at most 1/16 late and the scan over
            // the pool stays rare.
            const std::int64_t newest = forecaster.stats().newest_time_ns;
            if (idle_ns > 0 && newest - idle_checked_at_ns >= idle_ns / 16) {
                idle_checked_at_ns = newest;
                (void)forecaster.evict_idle_older_than(newest - idle_ns);
            }
            print_messages(forecaster);
        }
        totals.source = reader.report();  // rethrows what the reader thread threw
        totals.reader_cpu_seconds = reader.cpu_seconds();
        totals.bad_lines_printed = reader.bad_lines_printed();
        totals.stopped_by_signal = g_stop_requested.load(std::memory_order_acquire);
    }
    sink->flush();
    totals.saved_at_end = forecaster.save_all();
    print_messages(forecaster);
    totals.model_thread_cpu_seconds = engine::thread_cpu_seconds() - cpu_start;
    totals.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();

    const std::size_t streams_seen = source.stream_ids().size();
    print_summary(totals, forecaster, sink->report(), streams_seen, args);
    if (args.stats_json) {
        fmt::print(stderr, "{}\n", stats_json(totals, forecaster, sink->report(), streams_seen,
                                              process_cpu_seconds()).dump());
    }

    bool failed = !totals.source.failure.empty();
    if (failed) fmt::print(stderr, "statestream forecast: {}: reading stopped early: {}\n", source.name(),
                           totals.source.failure);
    if (plot_sink) {
        plot_sink->flush();
        plot_sink.reset();
        if (plot_index) {
            ForecastPlotRequest request;
            request.forecast_csv = plot_csv.path;
            if (args.input != "-" && args.input.rfind("udp://", 0) != 0) request.ticks = args.input;
            request.stream_id = std::string(source.stream_ids().name(*plot_index));
            request.horizons = horizon > 1 ? fmt::format("1,{}", horizon) : "1";
            request.png = args.plot_png;
            try {
                draw_forecast_plot(plot_script, request);
                fmt::print(stderr, "forecast: drew stream \"{}\" in {}\n", request.stream_id, args.plot_png);
            } catch (const std::runtime_error& error) {
                fmt::print(stderr, "statestream forecast: {}\n", error.what());
                failed = true;
            }
        } else {
            fmt::print(stderr, "statestream forecast: --plot: {}; nothing drawn\n",
                       args.plot_stream.empty() ? std::string("no stream got a forecast")
                                                : fmt::format("stream \"{}\" got no forecast", args.plot_stream));
            failed = true;
        }
    }
    if (failed) return ExitCode::kRuntimeFailure;
    // A snapshot refused is a stream that could not continue: partial, like a bad line.
    const bool skipped = totals.source.bad_lines != 0 || forecaster.stats().refused != 0 ||
                         forecaster.stats().restore_failures != 0;
    return skipped ? ExitCode::kPartialSuccess : ExitCode::kSuccess;
}

}  // namespace

Subcommand add_forecast_command(CLI::App& parent) {
    auto args = std::make_shared<ForecastArguments>();
    CLI::App* cli = parent.add_subcommand(
        "forecast", "Quantile forecasts (q10, q50, q90 for horizons 1..H) for many sensor or "
                    "market-tick streams at once, one line per tick (docs/forecast.md).");
    cli->add_option("--input,-i", args->input,
                    "Ticks (docs/ticks.md): a CSV file, - for stdin, or udp://HOST:PORT to listen on "
                    "(udp://:9000 for every address; runs until Ctrl-C or SIGTERM)")
        ->required();
    cli->add_option("--model,-m", args->model,
                    "Forecasting model file (default: the shipped data/models/forecaster.safetensors)");
    cli->add_option("--horizon", args->horizon, "Horizons 1..H per line (default: all of the model's)")
        ->check(CLI::Range(1, 256));
    cli->add_option("--season", args->season,
                    "Season P in ticks of every stream (24 for hourly data with a daily cycle); 0: none")
        ->check(CLI::Range(0, 1024))
        ->capture_default_str();
    cli->add_option("--format,-f", args->format, "csv or jsonl")
        ->check(CLI::IsMember({"csv", "jsonl"}))
        ->capture_default_str();
    cli->add_option("--output,-o", args->output, "A file, - for stdout, or udp://HOST:PORT to send to")
        ->capture_default_str();
    cli->add_option("--udp-packing", args->udp_packing,
                    "UDP output: packed (whole lines up to 1400 bytes per datagram) or line (one per datagram)")
        ->check(CLI::IsMember({"packed", "line"}))
        ->capture_default_str();
    cli->add_option("--max-streams", args->max_streams,
                    "Stream slots, each holding one stream's state, allocated at the start")
        ->check(CLI::Range(1, 65536))
        ->capture_default_str();
    cli->add_option("--evict", args->evict,
                    "When every slot is live, a new stream's ticks are refused (refuse), or the least "
                    "recently ticked stream is evicted for it (idle; saved to --state-dir if given)")
        ->check(CLI::IsMember({"refuse", "idle"}))
        ->capture_default_str();
    cli->add_option("--idle-seconds", args->idle_seconds,
                    "Evict streams without a tick for this long, in tick time (0: never)")
        ->check(CLI::NonNegativeNumber);
    cli->add_option("--state-dir", args->state_dir,
                    "Save every stream's state here at the end (and on eviction); a later run with the "
                    "same folder continues each stream where it stopped");
    cli->add_flag("--no-adapt", args->no_adapt, "Turn off the per-stream online adaptation of the quantiles");
    cli->add_option("--covariates", args->covariates,
                    "Names of the columns after value, declared in order (read and checked; the model "
                    "does not use them)")
        ->delimiter(',');
    cli->add_option("--threads", args->threads, "Threads for the batched model steps (0: every core)")
        ->check(CLI::Range(0, 1024))
        ->capture_default_str();
    cli->add_flag("--stats", args->stats_json,
                  "Also print the final statistics as one JSON line (statestream.forecast/1) on stderr");
    cli->add_option("--plot", args->plot_png,
                    "After the run, draw one stream's values and forecasts in this PNG "
                    "(scripts/plot_forecast.py, needs python3-matplotlib)");
    cli->add_option("--plot-stream", args->plot_stream, "The stream --plot draws (default: the first one)");
    return {cli, [args]() { return run_forecast(*args); }};
}

}  // namespace statestream::apps
