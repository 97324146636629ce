#include "bench/bench_forecast.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "bench/step_statistics.hpp"
#include "bench/timing.hpp"
#include "engine/forecast/stream_forecaster.hpp"
#include "engine/io/forecast_line_format.hpp"
#include "engine/io/tick_parser.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"

namespace statestream::bench {

namespace {

namespace forecast = engine::forecast;
namespace io = engine::io;

// The 1-stream row needs enough calls for its p99 to rest on tens of samples above it.
constexpr std::size_t kMinSingleStreamTicks = 4000;
// One tick in a hundred is a gap, as sensor feeds have them; gaps take the features' other path.
constexpr double kGapProbability = 0.01;
// Hourly-like data with a daily cycle: the season the synthetic series have, and the one the
// forecaster is told when the model allows it (a season exercises the seasonal anchors).
constexpr std::uint32_t kSyntheticSeason = 24;
// Ticks per process() call in the throughput rows, as the command hands them over.
constexpr std::size_t kPassTicks = forecast::kDefaultMaxPassTicks;
// The end-to-end row clears its formatted text at this size, as a sink writes a buffer out.
constexpr std::size_t kFormattedBufferBytes = 1 << 20;

double wall_ns() {
    return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

// Ticks of `streams` seasonal random walks, round by round (tick k of every stream, then tick
// k + 1), one second apart with the streams a microsecond apart within a round.
std::vector<io::Tick> synthetic_ticks(std::size_t streams, std::size_t ticks, std::uint64_t seed) {
    std::mt19937_64 random(seed);
    std::normal_distribution<double> step(0.0, 1.0);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    std::vector<double> level(streams), amplitude(streams), scale(streams);
    for (std::size_t s = 0; s < streams; ++s) {
        level[s] = 100.0 * (1.0 + uniform(random));
        amplitude[s] = 5.0 * uniform(random);
        scale[s] = 0.2 + uniform(random);
    }
    constexpr std::int64_t kStartNs = 1'714'560'000'000'000'000;  // 2024-05-01, Unix time
    std::vector<io::Tick> out;
    out.reserve(streams * ticks);
    for (std::size_t k = 0; k < ticks; ++k) {
        for (std::size_t s = 0; s < streams; ++s) {
            level[s] += scale[s] * step(random);
            io::Tick tick;
            tick.stream = static_cast<std::uint32_t>(s);
            tick.time_ns = kStartNs + static_cast<std::int64_t>(k) * 1'000'000'000 + static_cast<std::int64_t>(s) * 1000;
            const double season = amplitude[s] * std::sin(2.0 * M_PI * static_cast<double>(k % kSyntheticSeason) /
                                                          kSyntheticSeason);
            tick.value = uniform(random) < kGapProbability ? std::numeric_limits<float>::quiet_NaN()
                                                           : static_cast<float>(level[s] + season + 0.1 * step(random));
            out.push_back(tick);
        }
    }
    return out;
}

// The same ticks as the lines of a tick CSV (docs/ticks.md), as a file or socket would bring them.
std::string ticks_csv(const std::vector<io::Tick>& ticks) {
    std::string text = "stream_id,timestamp,value\n";
    for (const io::Tick& tick : ticks) {
        char number[32];
        text += 's';
        text.append(number, std::to_chars(number, number + sizeof number, tick.stream).ptr);
        text += ',';
        io::append_seconds(tick.time_ns, text);
        text += ',';
        if (!std::isnan(tick.value)) text.append(number, std::to_chars(number, number + sizeof number, tick.value).ptr);
        text += '\n';
    }
    return text;
}

// The names "s0", "s1", ... at indices 0, 1, ..., as a parser reading ticks_csv() assigns them.
std::unique_ptr<io::StreamIds> stream_ids(std::size_t streams) {
    auto ids = std::make_unique<io::StreamIds>(streams);  // not movable: its count is atomic
    for (std::size_t s = 0; s < streams; ++s) (void)ids->find_or_add(fmt::format("s{}", s));
    return ids;
}

struct Setup {
    const models::SsmModel* model = nullptr;
    std::uint32_t season = 0;
    std::uint32_t horizon = 0;
};

forecast::ForecasterOptions options_for(const Setup& setup, std::size_t streams, bool batched,
                                        std::size_t threads) {
    forecast::ForecasterOptions options;
    options.season = setup.season;
    options.max_streams = streams;
    options.batched = batched;
    options.threads = threads;
    return options;
}

struct PerCall {
    StepStatistics cpu;
    StepStatistics wall;
};

// Each process() call timed: `calls` spans of ticks, in order.
PerCall time_calls(const Setup& setup, const io::StreamIds& ids, std::size_t streams,
                   const std::vector<io::Tick>& ticks, std::size_t ticks_per_call) {
    forecast::StreamForecaster forecaster(*setup.model, ids, options_for(setup, streams, true, 1));
    PerCall result;
    double sink = 0.0;
    for (std::size_t at = 0; at + ticks_per_call <= ticks.size(); at += ticks_per_call) {
        const double wall0 = wall_ns();
        const double cpu0 = thread_cpu_ns();
        forecaster.process({ticks.data() + at, ticks_per_call},
                           [&](const forecast::Forecast& f) { sink += f.q50[0]; });
        result.cpu.add(thread_cpu_ns() - cpu0);
        result.wall.add(wall_ns() - wall0);
    }
    result.cpu.finish();
    result.wall.finish();
    if (std::isnan(sink)) fmt::print("");  // keeps the forecasts from being optimised away
    return result;
}

// CPU time of every thread of the process: the oneTBB workers' share of a batched row included.
double process_cpu_ns() {
    timespec now{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) * 1e9 + static_cast<double>(now.tv_nsec);
}

struct Throughput {
    std::string name;
    double wall_s = 0.0;
    double cpu_s = 0.0;  // every thread's, so a row on two cores counts both
    std::size_t ticks = 0;
    [[nodiscard]] double ticks_per_s() const { return static_cast<double>(ticks) / wall_s; }
    // Per CPU second: what the row costs, unlike wall time untouched by other programs' load on
    // the machine (the other side of a stall is some other process's CPU time).
    [[nodiscard]] double ticks_per_cpu_s() const { return static_cast<double>(ticks) / cpu_s; }
};

Throughput time_throughput(const char* name, const Setup& setup, const io::StreamIds& ids, std::size_t streams,
                           const std::vector<io::Tick>& ticks, bool batched, std::size_t threads) {
    forecast::StreamForecaster forecaster(*setup.model, ids, options_for(setup, streams, batched, threads));
    double sink = 0.0;
    const double wall0 = wall_ns();
    const double cpu0 = process_cpu_ns();
    for (std::size_t at = 0; at < ticks.size(); at += kPassTicks) {
        const std::size_t n = std::min(kPassTicks, ticks.size() - at);
        forecaster.process({ticks.data() + at, n}, [&](const forecast::Forecast& f) { sink += f.q50[0]; });
    }
    Throughput result{name, (wall_ns() - wall0) * 1e-9, (process_cpu_ns() - cpu0) * 1e-9, ticks.size()};
    if (std::isnan(sink)) fmt::print("");
    return result;
}

// Batched (oneTBB) against one at a time, pass by pass: the largest absolute difference of any
// quantile at any horizon, and how many values were compared.
struct Agreement {
    double max_abs_difference = 0.0;
    std::uint64_t values = 0;
    bool same_forecasts = true;  // both delivered the same ticks
};

Agreement compare_batched(const Setup& setup, const io::StreamIds& ids, std::size_t streams,
                          const std::vector<io::Tick>& ticks, std::size_t threads) {
    forecast::StreamForecaster batched(*setup.model, ids, options_for(setup, streams, true, threads));
    forecast::StreamForecaster single(*setup.model, ids, options_for(setup, streams, false, 1));
    Agreement agreement;
    std::vector<float> a, b;
    std::vector<std::int64_t> a_times, b_times;
    const auto keep = [](std::vector<float>& out, std::vector<std::int64_t>& times) {
        return [&out, &times](const forecast::Forecast& f) {
            times.push_back(f.time_ns);
            for (const auto& q : {f.q10, f.q50, f.q90}) out.insert(out.end(), q.begin(), q.end());
        };
    };
    for (std::size_t at = 0; at < ticks.size(); at += kPassTicks) {
        const std::size_t n = std::min(kPassTicks, ticks.size() - at);
        a.clear(), b.clear(), a_times.clear(), b_times.clear();
        batched.process({ticks.data() + at, n}, keep(a, a_times));
        single.process({ticks.data() + at, n}, keep(b, b_times));
        if (a_times != b_times || a.size() != b.size()) {
            agreement.same_forecasts = false;
            continue;
        }
        for (std::size_t i = 0; i < a.size(); ++i) {
            agreement.max_abs_difference =
                std::max(agreement.max_abs_difference, std::abs(static_cast<double>(a[i]) - b[i]));
        }
        agreement.values += a.size();
    }
    return agreement;
}

// The command's path on one thread: CSV lines parsed, ticks forecast in passes (rounds on
// oneTBB), each forecast formatted as a CSV line into a buffer that is cleared as a sink's is.
struct EndToEnd {
    double wall_s = 0.0;
    double parse_cpu_s = 0.0;
    double forecast_format_cpu_s = 0.0;  // the calling thread's
    double format_ns_per_line = 0.0;      // formatting alone, measured apart
    std::size_t lines = 0;
    std::size_t ticks = 0;
    std::uint64_t forecasts = 0;
    std::uint64_t bytes = 0;
};

EndToEnd time_end_to_end(const Setup& setup, const std::string& csv, std::size_t streams, std::size_t threads) {
    io::TickFormat format;
    format.max_streams = streams;
    io::TickParser parser(format);
    forecast::StreamForecaster forecaster(*setup.model, parser.stream_ids(),
                                          options_for(setup, streams, true, threads));
    EndToEnd result;
    std::vector<io::Tick> batch;
    batch.reserve(kPassTicks);
    std::string out;
    out.reserve(kFormattedBufferBytes + 64 * 1024);
    std::string line;
    const auto flush_batch = [&] {
        const double cpu0 = thread_cpu_ns();
        forecaster.process(batch, [&](const forecast::Forecast& f) {
            line.clear();
            io::append_forecast_line(io::ForecastLineFormat::kCsv, parser.stream_ids().name(f.stream), f.time_ns,
                                     f.value, f.q10, f.q50, f.q90, line);
            out.append(line);
            out.push_back('\n');
            if (out.size() >= kFormattedBufferBytes) {
                result.bytes += out.size();
                out.clear();
            }
        });
        result.forecast_format_cpu_s += (thread_cpu_ns() - cpu0) * 1e-9;
        result.ticks += batch.size();
        batch.clear();
    };
    const double wall0 = wall_ns();
    std::size_t at = 0;
    double parse_cpu0 = thread_cpu_ns();
    while (at < csv.size()) {
        const std::size_t end = csv.find('\n', at);
        const std::string_view text(csv.data() + at, (end == std::string::npos ? csv.size() : end) - at);
        at = end == std::string::npos ? csv.size() : end + 1;
        ++result.lines;
        auto parsed = parser.parse_line(text, result.lines);
        if (const io::Tick* tick = std::get_if<io::Tick>(&parsed)) batch.push_back(*tick);
        if (batch.size() == kPassTicks) {
            result.parse_cpu_s += (thread_cpu_ns() - parse_cpu0) * 1e-9;
            flush_batch();
            parse_cpu0 = thread_cpu_ns();
        }
    }
    result.parse_cpu_s += (thread_cpu_ns() - parse_cpu0) * 1e-9;
    if (!batch.empty()) flush_batch();
    result.wall_s = (wall_ns() - wall0) * 1e-9;
    result.bytes += out.size();
    result.forecasts = forecaster.stats().forecasts;

    // Formatting alone: the same number of lines from fixed quantiles of the model's horizon.
    std::vector<float> q(setup.horizon, 123.456f);
    const double format0 = thread_cpu_ns();
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < result.ticks; ++i) {
        line.clear();
        io::append_forecast_line(io::ForecastLineFormat::kCsv, "s123", 1'714'560'000'123'456'789 + static_cast<std::int64_t>(i),
                                 101.25f + static_cast<float>(i % 7), q, q, q, line);
        bytes += line.size();
    }
    result.format_ns_per_line = (thread_cpu_ns() - format0) / static_cast<double>(std::max<std::size_t>(1, result.ticks));
    if (bytes == 0) fmt::print("");
    return result;
}

nlohmann::json json_us(const StepStatistics& s) {
    return {{"p50", s.quantile_ns(0.5) / 1e3}, {"p99", s.quantile_ns(0.99) / 1e3}, {"max", s.max_ns() / 1e3},
            {"mean", s.mean_ns() / 1e3}, {"count", s.count()}};
}

}  // namespace

int run_forecast_bench(const ForecastBenchOptions& options) {
    if (options.streams < 2 || options.streams > 65536) {
        throw std::invalid_argument(fmt::format("--streams {}: give 2..65536", options.streams));
    }
    if (options.ticks < 10) throw std::invalid_argument(fmt::format("--ticks {}: give at least 10", options.ticks));
    const models::ModelFile file = models::ModelFile::load(options.model_path);
    if (file.description().task != models::Task::kForecast) {
        throw std::invalid_argument(fmt::format("{}: a {} model, not a forecasting model (task \"forecast\"); give "
                                                "--model a forecaster", options.model_path,
                                                models::task_name(file.description().task)));
    }
    const models::SsmModel model(file);
    const models::ForecastSpec& spec = file.description().forecast;
    const Setup setup{&model, spec.max_season >= kSyntheticSeason ? kSyntheticSeason : 0u, spec.horizon};
    const std::size_t n = options.streams;
    const std::size_t threads_used = options.threads == 0 ? std::thread::hardware_concurrency() : options.threads;

    const std::vector<io::Tick> one_stream = synthetic_ticks(1, std::max(kMinSingleStreamTicks, options.ticks), options.seed);
    const std::vector<io::Tick> many = synthetic_ticks(n, options.ticks, options.seed + 1);
    const std::unique_ptr<io::StreamIds> ids_one_storage = stream_ids(1);
    const std::unique_ptr<io::StreamIds> ids_many_storage = stream_ids(n);
    const io::StreamIds& ids_one = *ids_one_storage;
    const io::StreamIds& ids_many = *ids_many_storage;

    pin_to_current_core();  // the per-call rows: one core, warm caches, no migration mid-call
    const PerCall single = time_calls(setup, ids_one, 1, one_stream, 1);
    const PerCall rounds = time_calls(setup, ids_many, n, many, n);
    // The throughput rows use every core; release the pin (the mask of every CPU).
    cpu_set_t all;
    CPU_ZERO(&all);
    for (unsigned c = 0; c < std::thread::hardware_concurrency(); ++c) CPU_SET(c, &all);
    (void)sched_setaffinity(0, sizeof all, &all);
    const Throughput one_at_a_time = time_throughput("one stream-tick at a time (baseline)", setup, ids_many, n,
                                                     many, false, 1);
    const Throughput batched_1 = time_throughput("batched over streams, 1 thread", setup, ids_many, n, many, true, 1);
    const Throughput batched_tbb = time_throughput("batched over streams, oneTBB", setup, ids_many, n, many, true,
                                                   options.threads);
    const Agreement agreement = compare_batched(setup, ids_many, n, many, options.threads);
    const std::string csv = ticks_csv(many);
    const EndToEnd e2e = time_end_to_end(setup, csv, n, options.threads);
    const std::size_t bytes_per_stream = [&] {
        forecast::StreamForecaster probe(model, ids_many, options_for(setup, n, true, 1));
        return probe.stats().bytes_per_stream;
    }();
    const std::size_t model_state_bytes = model.state_floats() * sizeof(float);

    if (options.json) {
        const auto throughput_json = [](const Throughput& t) {
            return nlohmann::json{{"name", t.name}, {"stream_ticks_per_s", t.ticks_per_s()}, {"wall_s", t.wall_s},
                                  {"stream_ticks_per_cpu_s", t.ticks_per_cpu_s()}, {"process_cpu_s", t.cpu_s},
                                  {"ticks", t.ticks}};
        };
        nlohmann::ordered_json doc;
        doc["schema"] = "statestream.bench.forecast/1";
        doc["model"] = {{"path", options.model_path}, {"recipe", file.description().recipe.name},
                        {"parameters", file.parameter_count()}, {"horizon", spec.horizon}, {"season", setup.season}};
        doc["workload"] = {{"streams", n}, {"ticks_per_stream", options.ticks}, {"seed", options.seed},
                           {"gap_probability", kGapProbability}, {"threads", threads_used}};
        doc["step_cpu_us"] = {{"one_stream", json_us(single.cpu)}, {"n_streams_round", json_us(rounds.cpu)},
                              {"n_streams_per_stream_tick_mean", rounds.cpu.mean_ns() / 1e3 / static_cast<double>(n)}};
        doc["step_wall_us"] = {{"one_stream", json_us(single.wall)}, {"n_streams_round", json_us(rounds.wall)}};
        doc["throughput"] = {{"one_at_a_time", throughput_json(one_at_a_time)},
                             {"batched_1_thread", throughput_json(batched_1)},
                             {"batched_tbb", throughput_json(batched_tbb)},
                             {"ratio_batched_tbb_vs_one_at_a_time", batched_tbb.ticks_per_s() / one_at_a_time.ticks_per_s()},
                             {"ratio_batched_1_thread_vs_one_at_a_time", batched_1.ticks_per_s() / one_at_a_time.ticks_per_s()},
                             {"cpu_ratio_batched_1_thread_vs_one_at_a_time",
                              batched_1.ticks_per_cpu_s() / one_at_a_time.ticks_per_cpu_s()}};
        doc["end_to_end"] = {{"lines", e2e.lines}, {"ticks", e2e.ticks}, {"forecasts", e2e.forecasts},
                             {"bytes_out", e2e.bytes}, {"wall_s", e2e.wall_s},
                             {"ticks_per_s", static_cast<double>(e2e.ticks) / e2e.wall_s},
                             {"parse_cpu_s", e2e.parse_cpu_s}, {"forecast_format_cpu_s", e2e.forecast_format_cpu_s},
                             {"format_ns_per_line", e2e.format_ns_per_line}};
        doc["memory"] = {{"bytes_per_stream", bytes_per_stream}, {"model_state_bytes", model_state_bytes}};
        doc["agreement"] = {{"max_abs_difference", agreement.max_abs_difference}, {"values", agreement.values},
                            {"same_forecasts", agreement.same_forecasts}};
        fmt::print("{}\n", doc.dump(1));
        return 0;
    }

    fmt::print("forecaster: {} ({}, {} parameters, horizons 1..{}), season {}, adaptation on\n", options.model_path,
               file.description().recipe.name, file.parameter_count(), spec.horizon,
               setup.season == 0 ? std::string("none") : std::to_string(setup.season));
    fmt::print("workload: synthetic seasonal random walks (seed {}), {:.0f} % gaps; {} streams x {} ticks = {} "
               "stream-ticks; 1-stream rows: {} ticks\n",
               options.seed, 100 * kGapProbability, n, options.ticks, many.size(), one_stream.size());
    fmt::print("CPU time is the calling thread's (CLOCK_THREAD_CPUTIME_ID), pinned to one core. Wall max is noisy: "
               "this VM stalls threads for 1-7 ms at times.\n\n");
    fmt::print("| {:<44} | {:>9} | {:>9} | {:>9} | {:>11} |\n", "CPU time per process() call, 1 thread", "p50 us",
               "p99 us", "max us", "wall max us");
    fmt::print("|{:-<46}|{:->11}|{:->11}|{:->11}|{:->13}|\n", "", "", "", "", "");
    fmt::print("| {:<44} | {:>9.2f} | {:>9.2f} | {:>9.2f} | {:>11.1f} |\n", "1 stream: one tick", single.cpu.quantile_ns(0.5) / 1e3,
               single.cpu.quantile_ns(0.99) / 1e3, single.cpu.max_ns() / 1e3, single.wall.max_ns() / 1e3);
    fmt::print("| {:<44} | {:>9.2f} | {:>9.2f} | {:>9.2f} | {:>11.1f} |\n", fmt::format("{} streams: one round (a tick each)", n),
               rounds.cpu.quantile_ns(0.5) / 1e3, rounds.cpu.quantile_ns(0.99) / 1e3, rounds.cpu.max_ns() / 1e3,
               rounds.wall.max_ns() / 1e3);
    fmt::print("| {:<44} | {:>9.3f} | {:>9.3f} | {:>9.3f} | {:>11} |\n", fmt::format("{} streams: per stream-tick", n),
               rounds.cpu.quantile_ns(0.5) / 1e3 / static_cast<double>(n),
               rounds.cpu.quantile_ns(0.99) / 1e3 / static_cast<double>(n),
               rounds.cpu.max_ns() / 1e3 / static_cast<double>(n), "");

    fmt::print("\nmodel-step throughput over {} streams, passes of {} ticks ({} cores on this machine); per CPU "
               "second counts every thread of the process\n", n, kPassTicks, std::thread::hardware_concurrency());
    fmt::print("| {:<44} | {:>19} | {:>7} | {:>20} | {:>7} |\n", "", "stream-ticks/s wall", "ratio",
               "stream-ticks / CPU s", "ratio");
    fmt::print("|{:-<46}|{:->21}|{:->9}|{:->22}|{:->9}|\n", "", "", "", "", "");
    for (const Throughput* t : {&one_at_a_time, &batched_1, &batched_tbb}) {
        const std::string name = t == &batched_tbb ? fmt::format("{} ({} threads)", t->name, threads_used) : t->name;
        fmt::print("| {:<44} | {:>19.0f} | {:>6.2f}x | {:>20.0f} | {:>6.2f}x |\n", name, t->ticks_per_s(),
                   t->ticks_per_s() / one_at_a_time.ticks_per_s(), t->ticks_per_cpu_s(),
                   t->ticks_per_cpu_s() / one_at_a_time.ticks_per_cpu_s());
    }

    fmt::print("\nend to end on one thread (model rounds on oneTBB): tick CSV text in memory -> parse -> forecast -> "
               "CSV lines\n");
    fmt::print("  {} lines, {} ticks -> {} forecasts, {:.1f} MB of text in {:.3f} s: {:.0f} ticks/s\n", e2e.lines, e2e.ticks,
               e2e.forecasts, static_cast<double>(e2e.bytes) / 1e6, e2e.wall_s, static_cast<double>(e2e.ticks) / e2e.wall_s);
    const double per_tick = 1e9 / static_cast<double>(std::max<std::size_t>(1, e2e.ticks));
    fmt::print("  calling thread CPU per tick: parse {:.0f} ns, forecast + format {:.0f} ns (formatting alone {:.0f} ns "
               "per line of {} horizons)\n",
               e2e.parse_cpu_s * per_tick, e2e.forecast_format_cpu_s * per_tick, e2e.format_ns_per_line, spec.horizon);
    fmt::print("\nmemory per stream: {} bytes ({:.1f} KiB): model state {} bytes, features, adaptation and the last H "
               "forecasts the rest\n", bytes_per_stream, static_cast<double>(bytes_per_stream) / 1024.0,
               model_state_bytes);
    fmt::print("error against the reference (one stream-tick at a time): max |batched - reference| = {:.3g} over {} "
               "quantile values{}\n", agreement.max_abs_difference, agreement.values,
               agreement.same_forecasts ? "" : "; THE TWO DELIVERED DIFFERENT TICKS");
    return 0;
}

}  // namespace statestream::bench
