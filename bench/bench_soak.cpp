#include "bench/bench_soak.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "bench/random_model.hpp"
#include "bench/step_statistics.hpp"
#include "bench/timing.hpp"
#include "dsp/flush_denormals.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"
#include "models/state_snapshot.hpp"

#if STATESTREAM_HAVE_CALLGRIND
#include <valgrind/callgrind.h>
#endif

namespace statestream::bench {

namespace {

// Input rows cycle through this many seeded Gaussian rows: a prime, so the cycle lines up with
// no power-of-two ring or chunk inside a block, and generating input stays out of the timing.
constexpr std::size_t kInputCycleRows = 4099;
// The early callgrind window starts here, past the fill of the largest attention window a case
// has (64 steps here, 256 at most in the benchmarks), after which a step's work is fixed.
constexpr std::uint64_t kCallgrindEarlyStart = 1000;
// The block-type cases' size: one layer at d_model 64 with 16 features in and out, about the
// forecaster's size class (d_model 32-160 in the shipped models).
constexpr std::uint32_t kBlockDModel = 64;
constexpr std::uint32_t kBlockInputs = 16;
constexpr std::uint32_t kBlockOutputs = 16;

struct SoakCase {
    std::string key;   // short, no spaces: --only and the callgrind dump labels use it
    std::string name;  // what the tables print
    std::string path;  // a model file, or empty for `architecture`
    models::Architecture architecture;
};

std::vector<SoakCase> block_cases() {
    const auto one_layer = [](models::LayerSpec layer) {
        models::Architecture a;
        a.input_dim = kBlockInputs;
        a.d_model = kBlockDModel;
        a.output_dim = kBlockOutputs;
        a.layers = {layer};
        return a;
    };
    models::LayerSpec m1;
    m1.type = models::BlockType::kMamba1;
    m1.mamba1 = {16, 2, 4, 0};
    models::LayerSpec m2;
    m2.type = models::BlockType::kMamba2;
    m2.mamba2 = {16, 16, 2, 4, 1};
    models::LayerSpec m3;
    m3.type = models::BlockType::kMamba3;
    m3.mamba3 = {16, 16, 2, 1, 0};
    models::LayerSpec m3m = m3;
    m3m.mamba3.mimo_rank = 4;
    models::LayerSpec at;
    at.type = models::BlockType::kWindowAttention;
    at.attention = {4, 16, 64};
    return {{"mamba1", "Mamba-1 d_state 16", "", one_layer(m1)},
            {"mamba2", "Mamba-2 d_state 16, head_dim 16", "", one_layer(m2)},
            {"mamba3-siso", "Mamba-3 SISO d_state 16, head_dim 16", "", one_layer(m3)},
            {"mamba3-mimo", "Mamba-3 MIMO rank 4, d_state 16", "", one_layer(m3m)},
            {"attention", "window attention 4 x 16, window 64", "", one_layer(at)}};
}

// Resident memory of this process in KiB (VmRSS of /proc/self/status); -1 where unreadable.
long resident_kib() {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
}

struct WindowTimes {
    std::vector<float> first, last;  // ns per step, allocated (and touched) before the run
    double max_ns = 0.0;             // over every step, the middle ones too
    double total_ns = 0.0;           // thread CPU time of the whole loop
};

// The two callgrind windows' first steps: early, and the last `window` steps of the run.
struct WindowStarts {
    std::uint64_t early = 0, late = 0;
};
WindowStarts callgrind_starts(std::uint64_t steps, std::uint64_t window) {
    return {kCallgrindEarlyStart, steps - window};
}

std::filesystem::path state_path(const std::string& dir, const std::string& key, std::uint64_t step) {
    return std::filesystem::path(dir) / fmt::format("{}.step-{}.state", key, step);
}

// Runs `step(i)` for i in [0, steps) timing each call with the thread CPU clock. One clock read
// per step, each step's time the difference from the previous read, so every sample carries
// exactly one clock read: the baseline row measures that with an empty step. Before step 1 and
// the steps in `pauses`, `pause(i)` runs untimed (reading memory, copying a state).
template <typename Step, typename Pause>
void timed_run(std::uint64_t steps, WindowTimes& times, WindowStarts pauses, Step&& step, Pause&& pause) {
    const std::uint64_t window = times.first.size();
    const std::uint64_t last_start = steps - window;
    double paused_ns = 0.0;
    const double start = thread_cpu_ns();
    double previous = start;
    for (std::uint64_t i = 0; i < steps; ++i) {
        if (i == 1 || i == pauses.early || i == pauses.late) {
            pause(i);
            const double resumed = thread_cpu_ns();
            paused_ns += resumed - previous;
            previous = resumed;
        }
        step(i);
        const double now = thread_cpu_ns();
        const double ns = now - previous;
        previous = now;
        if (i < window) times.first[i] = static_cast<float>(ns);
        else if (i >= last_start) times.last[i - last_start] = static_cast<float>(ns);
        times.max_ns = std::max(times.max_ns, ns);
    }
    times.total_ns = previous - start - paused_ns;
}

// A window's percentiles only: the million samples behind them are freed with the case, so the
// next case's resident memory does not carry them.
struct WindowSummary {
    double p50_ns = 0, p99_ns = 0, p999_ns = 0, max_ns = 0;
};
WindowSummary summary_of(const std::vector<float>& ns) {
    StepStatistics statistics;
    for (const float x : ns) statistics.add(x);
    statistics.finish();
    return {statistics.quantile_ns(0.5), statistics.quantile_ns(0.99), statistics.quantile_ns(0.999),
            statistics.max_ns()};
}

struct SoakRow {
    std::string name;
    WindowSummary first, last;
    double max_ns = 0.0, mean_ns = 0.0;
    long rss_start_kib = 0, rss_end_kib = 0;
    bool outputs_finite = true;
};

void print_percentile_row(const SoakRow& row) {
    const auto us = [](double ns) { return ns / 1e3; };
    fmt::print("  {:<38} {:>7.2f} {:>7.2f} {:>8.2f} {:>8.1f}   {:>7.2f} {:>7.2f} {:>8.2f} {:>8.1f}   {:>6.3f} {:>6.3f}\n",
               row.name, us(row.first.p50_ns), us(row.first.p99_ns), us(row.first.p999_ns),
               us(row.first.max_ns), us(row.last.p50_ns), us(row.last.p99_ns), us(row.last.p999_ns),
               us(row.last.max_ns), row.last.p50_ns / row.first.p50_ns, row.last.p99_ns / row.first.p99_ns);
}

// Seeded N(0, 1) rows, kInputCycleRows of them, for a model of `input_dim` features.
std::vector<float> input_rows(std::size_t input_dim) {
    std::mt19937 random(11);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> rows(kInputCycleRows * input_dim);
    for (float& x : rows) x = normal(random);
    return rows;
}

// A case's model, ready to step: the file (mapped, or parsed from bytes kept here) and the model.
struct LoadedCase {
    std::vector<std::byte> bytes;
    std::unique_ptr<models::ModelFile> file;
    std::unique_ptr<models::SsmModel> model;
};

LoadedCase load_case(const SoakCase& c) {
    LoadedCase loaded;
    if (!c.path.empty()) {
        loaded.file = std::make_unique<models::ModelFile>(models::ModelFile::load(c.path));
    } else {
        loaded.bytes = random_model_bytes(c.architecture, 7);
        loaded.file = std::make_unique<models::ModelFile>(models::ModelFile::parse(loaded.bytes, c.key));
    }
    loaded.model = std::make_unique<models::SsmModel>(*loaded.file);
    return loaded;
}

// A case's model with one stream to step: its state, a workspace and the cycle of input rows.
struct SteppedCase {
    LoadedCase loaded;
    const models::SsmModel& model;
    models::StreamState state;
    models::ModelWorkspace workspace;
    std::vector<float> x, y;

    explicit SteppedCase(const SoakCase& c)
        : loaded(load_case(c)), model(*loaded.model), state(model.make_state()), workspace(model, 1),
          x(input_rows(model.input_dim())), y(model.output_dim()) {}

    // Step i of the soak: input row i of the cycle.
    void step(std::uint64_t i) noexcept {
        const std::size_t in = model.input_dim();
        const std::size_t r = static_cast<std::size_t>(i % kInputCycleRows);
        model.step(state, workspace, std::span(x).subspan(r * in, in), y);
    }
};

SoakRow soak_case(const SoakCase& c, const SoakBenchOptions& options, std::uint64_t window) {
    const std::uint64_t steps = options.steps;
    SteppedCase run(c);
    const models::SsmModel& model = run.model;
    models::StreamState& state = run.state;
    const std::vector<float>& y = run.y;
    WindowTimes times{std::vector<float>(window), std::vector<float>(window)};
    // The states at the callgrind windows' starts are copied into these during the run and
    // written to files after it, so saving allocates nothing between the two RSS readings.
    models::StreamState early_state = model.make_state(), late_state = model.make_state();

    SoakRow row;
    row.name = c.name;
    // Never equal to a step index when no state is saved.
    const WindowStarts pauses = options.save_states_dir.empty()
                                    ? WindowStarts{steps, steps}
                                    : callgrind_starts(steps, options.callgrind_window_steps);
    timed_run(
        steps, times, pauses,
        [&](std::uint64_t i) { run.step(i); },
        [&](std::uint64_t i) {
            // After the first step: the weights' pages and every buffer have been touched.
            if (i == 1) row.rss_start_kib = resident_kib();
            if (i != pauses.early && i != pauses.late) return;
            auto& copy = i == pauses.early ? early_state : late_state;
            std::copy(state.values.begin(), state.values.end(), copy.values.begin());
        });
    row.rss_end_kib = resident_kib();
    if (!options.save_states_dir.empty()) {
        models::save_state_file(model, early_state, state_path(options.save_states_dir, c.key, pauses.early));
        models::save_state_file(model, late_state, state_path(options.save_states_dir, c.key, pauses.late));
    }
    row.outputs_finite = std::all_of(y.begin(), y.end(), [](float v) { return std::isfinite(v); }) &&
                         std::all_of(state.values.begin(), state.values.end(),
                                     [](float v) { return std::isfinite(v); });
    row.first = summary_of(times.first);
    row.last = summary_of(times.last);
    row.max_ns = times.max_ns;
    row.mean_ns = times.total_ns / static_cast<double>(steps);
    return row;
}

void callgrind_case(const SoakCase& c, const SoakBenchOptions& options) {
    SteppedCase run(c);
    const models::SsmModel& model = run.model;
    models::StreamState& state = run.state;
    const auto step = [&](std::uint64_t i) { run.step(i); };
    const std::uint64_t steps = options.steps, window = options.callgrind_window_steps;
    const WindowStarts starts = callgrind_starts(steps, window);
    // Dump labels "soak:KEY:early|late:FIRST_STEP:STEPS", read by scripts/soak_callgrind.sh.
    const std::string early_label = fmt::format("soak:{}:early:{}:{}", c.key, starts.early, window);
    const std::string late_label = fmt::format("soak:{}:late:{}:{}", c.key, starts.late, window);
    const auto counted_window = [&](std::uint64_t first, const std::string& label) {
#if STATESTREAM_HAVE_CALLGRIND
        CALLGRIND_START_INSTRUMENTATION;
        CALLGRIND_ZERO_STATS;
#endif
        for (std::uint64_t i = first; i < first + window; ++i) step(i);
#if STATESTREAM_HAVE_CALLGRIND
        CALLGRIND_STOP_INSTRUMENTATION;
        CALLGRIND_DUMP_STATS_AT(label.c_str());
#else
        (void)label;
#endif
    };
    if (!options.load_states_dir.empty()) {
        state = models::restore_state_file(model, state_path(options.load_states_dir, c.key, starts.early));
        counted_window(starts.early, early_label);
        state = models::restore_state_file(model, state_path(options.load_states_dir, c.key, starts.late));
        counted_window(starts.late, late_label);
    } else {
        for (std::uint64_t i = 0; i < steps;) {
            if (!options.save_states_dir.empty() && (i == starts.early || i == starts.late)) {
                models::save_state_file(model, state, state_path(options.save_states_dir, c.key, i));
            }
            if (i == starts.early || i == starts.late) {
                counted_window(i, i == starts.early ? early_label : late_label);
                i += window;
            } else {
                step(i);
                ++i;
            }
        }
    }
    fmt::print("  {:<14} {}: steps [{}, {}) and [{}, {}) of {}{}, dumped as {} and {}\n", c.key, c.name,
               starts.early, starts.early + window, starts.late, steps, steps,
               options.load_states_dir.empty() ? "" : " (each from its saved state)", early_label, late_label);
    std::fflush(stdout);
}

}  // namespace

int run_soak_bench(const SoakBenchOptions& options) {
    std::vector<SoakCase> cases;
    for (const auto& path : options.model_paths) {
        cases.push_back({std::filesystem::path(path).stem().string(),
                         std::filesystem::path(path).stem().string() + " (shipped)", path, {}});
    }
    for (auto& c : block_cases()) cases.push_back(std::move(c));
    if (!options.only.empty()) {
        std::erase_if(cases, [&](const SoakCase& c) { return c.key.find(options.only) == std::string::npos; });
        if (cases.empty()) {
            throw std::invalid_argument(fmt::format(
                "--only {}: no case's key contains it; the keys are the shipped models' file stems "
                "and mamba1, mamba2, mamba3-siso, mamba3-mimo, attention", options.only));
        }
    }
    // As every thread that runs a model in the engine does (realtime_worker, stream_forecaster).
    dsp::enable_flush_to_zero();
    pin_to_current_core();

    const bool states_saved = !options.save_states_dir.empty();
    if (options.callgrind_windows || states_saved) {
        const std::uint64_t window = options.callgrind_window_steps;
        if (window == 0 || options.steps < kCallgrindEarlyStart + 2 * window) {
            throw std::invalid_argument(fmt::format(
                "--steps {} is too few for callgrind windows of {} steps: it needs at least {} "
                "(the early window starts at step {})", options.steps, window,
                kCallgrindEarlyStart + 2 * window, kCallgrindEarlyStart));
        }
    }
    if (states_saved) std::filesystem::create_directories(options.save_states_dir);
    if (!options.load_states_dir.empty() && !options.callgrind_windows) {
        throw std::invalid_argument("--states is for --callgrind-windows only: give both, or --save-states");
    }
    if (options.callgrind_windows) {
        const std::uint64_t window = options.callgrind_window_steps;
#if STATESTREAM_HAVE_CALLGRIND
        if (RUNNING_ON_VALGRIND == 0) {
            fmt::print("Not running under valgrind: the windows below are stepped but not counted. "
                       "Run scripts/soak_callgrind.sh.\n");
        }
#else
        fmt::print("Built without valgrind/callgrind.h (Debian package valgrind): the windows below "
                   "are stepped but not counted.\n");
#endif
        fmt::print("Callgrind windows: {} steps each, one from step {} and the last {} of {} steps\n",
                   window, kCallgrindEarlyStart, window, options.steps);
        for (const auto& c : cases) callgrind_case(c, options);
        return 0;
    }

    const std::uint64_t window = std::min(options.window_steps, options.steps / 2);
    if (window == 0) throw std::invalid_argument("--steps must be at least 2 for a soak");
    fmt::print("Soak: {} steps per case on one stream, one step() per call, flush-to-zero on, "
               "thread pinned; per-step thread CPU time in us over the first and the last {} "
               "steps (one clock read per step included: see the baseline row)\n",
               options.steps, window);
    fmt::print("Block-type cases: one layer at d_model {}, {} inputs, {} outputs, seeded random "
               "weights (bench/random_model); input: seeded N(0, 1) rows, a cycle of {}\n\n",
               kBlockDModel, kBlockInputs, kBlockOutputs, kInputCycleRows);
    fmt::print("  {:<38} {:^35}   {:^35}   {:^13}\n", "", "first window", "last window", "last / first");
    fmt::print("  {:<38} {:>7} {:>7} {:>8} {:>8}   {:>7} {:>7} {:>8} {:>8}   {:>6} {:>6}\n", "case",
               "p50", "p99", "p99.9", "max", "p50", "p99", "p99.9", "max", "p50", "p99");
    std::fflush(stdout);

    std::vector<SoakRow> rows;
    {
        // The baseline: the same loop with nothing in the step, i.e. the clock read alone.
        WindowTimes times{std::vector<float>(window), std::vector<float>(window)};
        SoakRow baseline;
        baseline.name = "baseline: clock read, empty step";
        timed_run(options.steps, times, WindowStarts{options.steps, options.steps}, [](std::uint64_t) {},
                  [&](std::uint64_t) { baseline.rss_start_kib = resident_kib(); });
        baseline.rss_end_kib = resident_kib();
        baseline.first = summary_of(times.first);
        baseline.last = summary_of(times.last);
        baseline.max_ns = times.max_ns;
        baseline.mean_ns = times.total_ns / static_cast<double>(options.steps);
        print_percentile_row(baseline);
        std::fflush(stdout);
        rows.push_back(std::move(baseline));
    }
    for (const auto& c : cases) {
        rows.push_back(soak_case(c, options, window));
        print_percentile_row(rows.back());
        std::fflush(stdout);
    }

    fmt::print("\n  {:<38} {:>10} {:>10} {:>9} {:>11} {:>11} {:>9}\n", "case", "RSS start", "RSS end",
               "growth", "mean us", "run max us", "finite");
    for (const auto& row : rows) {
        fmt::print("  {:<38} {:>6} KiB {:>6} KiB {:>5} KiB {:>11.3f} {:>11.1f} {:>9}\n", row.name,
                   row.rss_start_kib, row.rss_end_kib, row.rss_end_kib - row.rss_start_kib,
                   row.mean_ns / 1e3, row.max_ns / 1e3, row.outputs_finite ? "yes" : "NO");
    }
    fmt::print("  (RSS: VmRSS of the whole process after the case's first step, when its weights "
               "and buffers have been touched, and after its last; mean: CPU time of all steps / steps; finite: "
               "the last output and the state hold no NaN or infinity)\n");
    return 0;
}

}  // namespace statestream::bench
