// The online adaptation (docs/forecast.md, "Online adaptation") with the shipped model,
// data/models/forecaster.safetensors, through StreamForecaster, on seeded series run twice:
// adaptation on and off. Errors are mean |q50 - actual| over horizons 1..H of one forecast, in
// units of the series' noise, so every kind reads on one scale.
//
// What issue 10 asked to prove: after a level shift the error recovers faster with adaptation
// than without. The model follows a shift by itself within a few to a dozen ticks (the anchor
// is the last value), but for those ticks it forecasts part of the way back, as it must while
// one value cannot tell a spike from a new level; the pull-back (beta) learns from the ticks
// after the shift how much of that move the values bear out and scales every horizon's by it.
// Proved on shifts the 1-step forecast misses by more than adapt_shift_sigmas (noisy level and
// AR(1), +-10 noise sd): lower error over the first 50 ticks, on most seeds, and fewer ticks to
// recover. Where no shift is detected (-4 sd on the noisy level, 2.8 scales) or the pull-back
// does not apply (a usable season), the test asserts that adaptation does no harm. The width
// holds the interval at its target coverage, the offset removes a persistent bias (a quiet
// sensor), and on series without shifts adaptation costs at most 2 % of the error.
//
// Each case prints its figures (WARN), adapted against not, so a run shows the tables of
// docs/forecast.md.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <numbers>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "engine/forecast/stream_forecaster.hpp"
#include "engine/io/tick_parser.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"

using statestream::engine::forecast::Forecast;
using statestream::engine::forecast::ForecasterOptions;
using statestream::engine::forecast::StreamForecaster;
using statestream::engine::io::StreamIds;
using statestream::engine::io::Tick;
using statestream::models::ModelFile;
using statestream::models::SsmModel;

namespace {

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr double kCoverageTarget = 0.8;  // the shipped spec's `coverage`

struct LoadedModel {
    explicit LoadedModel(ModelFile loaded) : file(std::move(loaded)), model(file) {}
    ModelFile file;
    SsmModel model;
};

const LoadedModel& shipped_model() {
    static const LoadedModel loaded(
        ModelFile::load(std::filesystem::path(STATESTREAM_DATA_DIR) / "models" / "forecaster.safetensors"));
    return loaded;
}

enum class Kind { kNoisyLevel, kAr1, kSeasonal, kQuietSensor, kRandomWalk };

const char* kind_name(Kind kind) {
    switch (kind) {
        case Kind::kNoisyLevel: return "noisy level";
        case Kind::kAr1: return "AR(1) 0.8";
        case Kind::kSeasonal: return "seasonal P=12";
        case Kind::kQuietSensor: return "quiet sensor";
        case Kind::kRandomWalk: return "random walk";
    }
    return "?";
}

std::uint32_t season_of(Kind kind) { return kind == Kind::kSeasonal ? 12 : 0; }

// A level of 100 plus noise of unit marginal sd (0.002 for the quiet sensor, a fifth of the
// 0.1 % scale floor of docs/forecast.md, so the model sees an almost constant series; unit
// steps for the random walk), and `shift` noise sds added from tick `shift_at` on.
std::vector<float> make_series(Kind kind, std::uint32_t seed, std::size_t ticks, std::size_t shift_at,
                               double shift) {
    std::mt19937_64 rng(seed * 7919u + static_cast<std::uint32_t>(kind));
    std::normal_distribution<double> noise(0.0, 1.0);
    constexpr double kPhi = 0.8;
    const double sd = kind == Kind::kQuietSensor ? 0.002 : 1.0;
    std::vector<float> values(ticks);
    double ar = 0.0;
    for (std::size_t i = 0; i < ticks; ++i) {
        double x = noise(rng);
        if (kind == Kind::kAr1) {
            ar = kPhi * ar + std::sqrt(1.0 - kPhi * kPhi) * x;  // unit marginal sd
            x = ar;
        }
        if (kind == Kind::kSeasonal) {
            x += 5.0 * std::sin(2.0 * std::numbers::pi * static_cast<double>(i) / 12.0);
        }
        if (kind == Kind::kRandomWalk) {  // unit steps: the noise sd is the step's
            ar += x;
            x = ar;
        }
        values[i] = static_cast<float>(100.0 + sd * (x + (i >= shift_at ? shift : 0.0)));
    }
    return values;
}

// Every series as one stream of one forecaster, one tick per second, the streams interleaved.
// Returns per stream and tick the forecast {q10 {H}, q50 {H}, q90 {H}}.
using StreamForecasts = std::vector<std::vector<float>>;  // per tick {q10 {H}, q50 {H}, q90 {H}}

std::vector<StreamForecasts> forecast_all(const std::vector<std::vector<float>>& series, std::uint32_t season,
                                          bool adapt) {
    StreamIds ids(series.size());
    for (std::size_t s = 0; s < series.size(); ++s) {
        std::string name = "s";  // appended: GCC 12 warns falsely on "s" + std::string (-Wrestrict)
        name += std::to_string(s);
        REQUIRE(ids.find_or_add(name).has_value());
    }
    ForecasterOptions options;
    options.season = season;
    options.adapt = adapt;
    options.max_streams = series.size();
    options.threads = 1;
    StreamForecaster forecaster(shipped_model().model, ids, options);
    const std::size_t ticks = series.front().size();
    std::vector<StreamForecasts> out(series.size());
    std::vector<Tick> round(series.size());
    for (std::size_t i = 0; i < ticks; ++i) {
        for (std::size_t s = 0; s < series.size(); ++s) {
            round[s] = {static_cast<std::uint32_t>(s), static_cast<std::int64_t>(i + 1) * kSecond, series[s][i],
                        {}};
        }
        forecaster.process(round, [&](const Forecast& f) {
            std::vector<float> q(f.q10.begin(), f.q10.end());
            q.insert(q.end(), f.q50.begin(), f.q50.end());
            q.insert(q.end(), f.q90.begin(), f.q90.end());
            out[f.stream].push_back(std::move(q));
        });
    }
    for (const auto& stream : out) REQUIRE(stream.size() == ticks);  // no gaps: a forecast per tick
    return out;
}

// Mean |q50 - actual| / sd over horizons 1..H of the forecast made at each origin whose targets
// all lie in the series; NaN past that.
std::vector<double> origin_errors(const std::vector<std::vector<float>>& q, const std::vector<float>& values,
                                  double sd) {
    const std::size_t H = q.front().size() / 3;
    std::vector<double> errors(values.size(), std::nan(""));
    for (std::size_t i = 0; i + H < values.size(); ++i) {
        double sum = 0.0;
        for (std::size_t h = 1; h <= H; ++h) sum += std::abs(double{q[i][H + h - 1]} - values[i + h]);
        errors[i] = sum / static_cast<double>(H) / sd;
    }
    return errors;
}

double mean_over(const std::vector<double>& x, std::size_t from, std::size_t to) {
    double sum = 0.0;
    for (std::size_t i = from; i < to; ++i) sum += x[i];
    return sum / static_cast<double>(to - from);
}

// Share of targets inside [q10, q90] over the origins from..to.
double coverage(const std::vector<std::vector<float>>& q, const std::vector<float>& values, std::size_t from,
                std::size_t to) {
    const std::size_t H = q.front().size() / 3;
    std::size_t inside = 0;
    for (std::size_t i = from; i < to; ++i) {
        for (std::size_t h = 1; h <= H; ++h) {
            const float v = values[i + h];
            inside += (q[i][h - 1] <= v && v <= q[i][2 * H + h - 1]) ? 1 : 0;
        }
    }
    return static_cast<double>(inside) / static_cast<double>((to - from) * H);
}

// Mean pinball loss over q10, q50, q90 and horizons 1..H of the forecast made at each origin,
// in units of the noise; NaN past the end. Scores the interval too: a band that is too wide or
// off centre costs, where |q50 - actual| sees only the median.
std::vector<double> origin_pinball(const std::vector<std::vector<float>>& q, const std::vector<float>& values) {
    const std::size_t H = q.front().size() / 3;
    constexpr double kLevels[3] = {0.1, 0.5, 0.9};
    std::vector<double> loss(values.size(), std::nan(""));
    for (std::size_t i = 0; i + H < values.size(); ++i) {
        double sum = 0.0;
        for (std::size_t h = 1; h <= H; ++h) {
            for (std::size_t k = 0; k < 3; ++k) {
                const double error = double{values[i + h]} - q[i][k * H + h - 1];
                sum += std::max(kLevels[k] * error, (kLevels[k] - 1.0) * error);
            }
        }
        loss[i] = sum / static_cast<double>(3 * H);
    }
    return loss;
}

// Recovery: ticks after the shift until the error, averaged over 10 consecutive origins, is
// within 1.5 times the stream's own pre-shift error and stays there for the next 20 origins
// (a single lucky window does not count). kNever when it does not happen before `end`.
constexpr std::size_t kNever = 9999;
std::size_t recovery_ticks(const std::vector<double>& errors, double pre, std::size_t shift_at, std::size_t end) {
    constexpr std::size_t kWindow = 10;
    constexpr std::size_t kStay = 20;
    std::vector<bool> within;
    for (std::size_t at = shift_at; at + kWindow <= end; ++at) {
        within.push_back(mean_over(errors, at, at + kWindow) <= 1.5 * pre);
    }
    for (std::size_t k = 0; k + kStay <= within.size(); ++k) {
        const auto first = within.begin() + static_cast<std::ptrdiff_t>(k);
        if (std::all_of(first, first + kStay, [](bool b) { return b; })) return k;
    }
    return kNever;
}

// printf-style text for WARN lines (the test program does not link fmt).
std::string printed(const char* format, ...) {
    char text[512];
    va_list args;
    va_start(args, format);
    std::vsnprintf(text, sizeof text, format, args);
    va_end(args);
    return text;
}

double median(std::vector<double> x) {
    std::sort(x.begin(), x.end());
    return x.size() % 2 == 1 ? x[x.size() / 2] : 0.5 * (x[x.size() / 2 - 1] + x[x.size() / 2]);
}

// One level-shift case over seeds: per seed, adapted (a = 0) and not (a = 1).
struct ShiftRun {
    double pre[2] = {};      // mean error of origins whose targets all lie before the shift
    double after[2] = {};    // ... of the first 50 origins that have seen the shift
    double late[2] = {};     // ... of origins 150..250 ticks after it
    double pinball[2] = {};  // mean pinball loss of the first 50 origins that have seen the shift
    std::size_t recover[2] = {};  // ticks to recover (recovery_ticks), both against the
                                  // unadapted pre-shift error
};

// 400 ticks before the shift let the scale, level and adaptation settle (the longest time
// constant is level_tau = 128); 300 after it hold the windows below.
constexpr std::size_t kShiftAt = 400;
constexpr std::size_t kShiftTicks = 700;
constexpr std::uint32_t kShiftSeeds = 32;

std::vector<ShiftRun> run_shift(Kind kind, double shift) {
    std::vector<std::vector<float>> series;
    for (std::uint32_t seed = 1; seed <= kShiftSeeds; ++seed) {
        series.push_back(make_series(kind, seed, kShiftTicks, kShiftAt, shift));
    }
    const auto on = forecast_all(series, season_of(kind), true);
    const auto off = forecast_all(series, season_of(kind), false);
    const std::size_t H = on.front().front().size() / 3;
    const std::size_t end = kShiftTicks - H;  // origins whose targets all exist
    std::vector<ShiftRun> runs(kShiftSeeds);
    for (std::uint32_t s = 0; s < kShiftSeeds; ++s) {
        std::vector<double> errors[2] = {origin_errors(on[s], series[s], 1.0), origin_errors(off[s], series[s], 1.0)};
        ShiftRun& run = runs[s];
        for (int a = 0; a < 2; ++a) {
            run.pre[a] = mean_over(errors[a], kShiftAt - 200, kShiftAt - H);
            run.after[a] = mean_over(errors[a], kShiftAt, kShiftAt + 50);
            run.late[a] = mean_over(errors[a], kShiftAt + 150, kShiftAt + 250);
            run.pinball[a] = mean_over(origin_pinball(a == 0 ? on[s] : off[s], series[s]), kShiftAt, kShiftAt + 50);
        }
        // One bar for both: the model's own error before the shift, which no defect of the
        // adaptation can move (a worse adapted pre-shift error would otherwise lower its bar).
        for (int a = 0; a < 2; ++a) run.recover[a] = recovery_ticks(errors[a], run.pre[1], kShiftAt, end);
    }
    return runs;
}

struct ShiftSummary {
    double pre[2] = {}, after[2] = {}, late[2] = {}, pinball[2] = {}, recover[2] = {};  // means; recover: median
    std::uint32_t after_lower = 0;  // seeds whose first-50 error is lower with adaptation
    std::uint32_t faster = 0, slower = 0;  // seeds that recover in fewer / more ticks with it
};

ShiftSummary summarise(Kind kind, double shift, const std::vector<ShiftRun>& runs) {
    ShiftSummary sum;
    std::vector<double> recover[2];
    const auto n = static_cast<double>(runs.size());
    for (const ShiftRun& run : runs) {
        for (int a = 0; a < 2; ++a) {
            sum.pre[a] += run.pre[a] / n;
            sum.after[a] += run.after[a] / n;
            sum.late[a] += run.late[a] / n;
            sum.pinball[a] += run.pinball[a] / n;
            recover[a].push_back(static_cast<double>(run.recover[a]));
        }
        sum.after_lower += run.after[0] < run.after[1] ? 1 : 0;
        sum.faster += run.recover[0] < run.recover[1] ? 1 : 0;
        sum.slower += run.recover[0] > run.recover[1] ? 1 : 0;
    }
    for (int a = 0; a < 2; ++a) sum.recover[a] = median(recover[a]);
    WARN(printed("%-13s shift %+3.0f sd: error (adapt on / off) before %.2f / %.2f, first 50 ticks after "
                 "%.2f / %.2f (lower on %u of %zu seeds), 150..250 after %.2f / %.2f; median ticks to "
                 "recover %.0f / %.0f (faster on %u, slower on %u seeds); pinball first 50 after %.3f / %.3f",
                 kind_name(kind), shift, sum.pre[0], sum.pre[1], sum.after[0], sum.after[1], sum.after_lower,
                 runs.size(), sum.late[0], sum.late[1], sum.recover[0], sum.recover[1], sum.faster, sum.slower,
                 sum.pinball[0], sum.pinball[1]));
    return sum;
}

}  // namespace

TEST_CASE("Adaptation recovers from a level shift faster than no adaptation",
          "[engine][forecast][adaptation]") {
    // Shifts of 10 noise sd: 7 scales on the noisy level (sigma' ~ 1.4 sd), 16 on the AR(1)
    // (sigma' ~ 0.63 sd), both beyond adapt_shift_sigmas = 5.
    std::size_t checked = 0;
    for (const Kind kind : {Kind::kNoisyLevel, Kind::kAr1}) {
        for (const double shift : {10.0, -10.0}) {
            const ShiftSummary sum = summarise(kind, shift, run_shift(kind, shift));
            INFO(kind_name(kind) << ", shift " << shift << " sd: error over the first 50 ticks after it "
                                 << sum.after[0] << " with adaptation, " << sum.after[1] << " without, lower on "
                                 << sum.after_lower << " of " << kShiftSeeds << " seeds; median ticks to recover "
                                 << sum.recover[0] << " / " << sum.recover[1] << ", faster on " << sum.faster
                                 << " seeds, slower on " << sum.slower << "; pinball over the first 50 "
                                 << sum.pinball[0] << " / " << sum.pinball[1]);
            // Lower by 3 % at least over the seeds, and on 2 of 3 seeds: one seed's 50 origins of
            // overlapping 24-tick horizons vary a lot, the mean less. Over 64 seeds the error was
            // 6 to 14 % lower and lower on 84 to 100 % of them; the bars leave room for the
            // sampling of 32 (seeds 1..16 alone gave 4 % and 12 of 16 for the AR(1) at -10).
            CHECK(sum.after[0] <= 0.97 * sum.after[1]);
            CHECK(sum.after_lower * 3 >= kShiftSeeds * 2);
            // Recovery: fewer ticks at the median, and more seeds faster than slower.
            CHECK(sum.recover[0] < sum.recover[1]);
            CHECK(sum.faster > sum.slower);
            // The interval too (pinball over q10/q50/q90, measured 8 to 14 % lower): the break
            // keeps forecasts made before the shift from widening it (without the break,
            // measured 11 to 16 % higher than no adaptation).
            CHECK(sum.pinball[0] <= 0.97 * sum.pinball[1]);
            // Before the shift and long after it, adaptation costs nothing worth the name.
            CHECK(sum.pre[0] <= 1.02 * sum.pre[1]);
            CHECK(sum.late[0] <= 1.05 * sum.late[1]);
            ++checked;
        }
    }
    REQUIRE(checked == 4);
}

TEST_CASE("Adaptation does no harm after a shift it does not detect, or with a season",
          "[engine][forecast][adaptation]") {
    // -4 sd on the noisy level is 2.8 scales: below adapt_shift_sigmas, so no pull-back. With a
    // season the pull-back is not applied (a seasonal anchor holds the shift for P ticks, and
    // the model's own pull-back corrects that too). Either way the error must not grow.
    const std::pair<Kind, double> cases[] = {
        {Kind::kNoisyLevel, -4.0}, {Kind::kSeasonal, 10.0}, {Kind::kSeasonal, -10.0}, {Kind::kSeasonal, 20.0}};
    for (const auto& [kind, shift] : cases) {
        const ShiftSummary sum = summarise(kind, shift, run_shift(kind, shift));
        INFO(kind_name(kind) << ", shift " << shift << " sd: error over the first 50 ticks after it "
                             << sum.after[0] << " with adaptation, " << sum.after[1] << " without; before "
                             << sum.pre[0] << " / " << sum.pre[1] << "; 150..250 after " << sum.late[0] << " / "
                             << sum.late[1] << "; pinball over the first 50 " << sum.pinball[0] << " / "
                             << sum.pinball[1]);
        CHECK(sum.after[0] <= 1.05 * sum.after[1]);
        CHECK(sum.pre[0] <= 1.02 * sum.pre[1]);
        CHECK(sum.late[0] <= 1.05 * sum.late[1]);
        // The width learns from misses below the break threshold (-4 sd, and seasonal shifts
        // of 4.2 scales): the interval costs up to 6 % (measured) for 50 ticks; 8 % at most.
        CHECK(sum.pinball[0] <= 1.08 * sum.pinball[1]);
    }
}

TEST_CASE("Adaptation costs at most 2 % of the error on series without shifts",
          "[engine][forecast][adaptation]") {
    constexpr std::size_t kTicks = 600;
    constexpr std::size_t kFrom = 200;
    constexpr std::uint32_t kSeeds = 8;
    for (const Kind kind : {Kind::kNoisyLevel, Kind::kAr1, Kind::kSeasonal, Kind::kRandomWalk}) {
        std::vector<std::vector<float>> series;
        for (std::uint32_t seed = 31; seed < 31 + kSeeds; ++seed) {
            series.push_back(make_series(kind, seed, kTicks, kTicks, 0.0));
        }
        const auto on = forecast_all(series, season_of(kind), true);
        const auto off = forecast_all(series, season_of(kind), false);
        const std::size_t H = on.front().front().size() / 3;
        double mean_on = 0.0, mean_off = 0.0;
        for (std::uint32_t s = 0; s < kSeeds; ++s) {
            mean_on += mean_over(origin_errors(on[s], series[s], 1.0), kFrom, kTicks - H) / kSeeds;
            mean_off += mean_over(origin_errors(off[s], series[s], 1.0), kFrom, kTicks - H) / kSeeds;
        }
        WARN(printed("%-13s no shift: error with adaptation %.3f, without %.3f (ratio %.3f)", kind_name(kind),
                     mean_on, mean_off, mean_on / mean_off));
        INFO(kind_name(kind) << ": error with adaptation " << mean_on << ", without " << mean_off);
        CHECK(mean_on <= 1.02 * mean_off);
    }
}

TEST_CASE("Adaptation holds the central interval at its 80 % target coverage",
          "[engine][forecast][adaptation]") {
    constexpr std::size_t kTicks = 600;
    constexpr std::size_t kFrom = 200;  // the width settles in a few times 1 / eta_g = 20 ticks
    constexpr std::uint32_t kSeeds = 6;
    // Not the quiet sensor: there the 0.1 % scale floor makes the model's band about 50 noise sds
    // wide, and the width factor stops at e^-2 (kLogWidthLimit), so it covers everything either way
    // (measured: 0.999 with adaptation, 1.000 without).
    for (const Kind kind : {Kind::kNoisyLevel, Kind::kAr1, Kind::kSeasonal}) {
        std::vector<std::vector<float>> series;
        for (std::uint32_t seed = 11; seed < 11 + kSeeds; ++seed) {
            series.push_back(make_series(kind, seed, kTicks, kTicks, 0.0));
        }
        const auto on = forecast_all(series, season_of(kind), true);
        const auto off = forecast_all(series, season_of(kind), false);
        const std::size_t H = on.front().front().size() / 3;
        double mean_on = 0.0, mean_off = 0.0, worst_on = 0.0;
        for (std::uint32_t s = 0; s < kSeeds; ++s) {
            const double c_on = coverage(on[s], series[s], kFrom, kTicks - H);
            const double c_off = coverage(off[s], series[s], kFrom, kTicks - H);
            mean_on += c_on / kSeeds;
            mean_off += c_off / kSeeds;
            worst_on = std::max(worst_on, std::abs(c_on - kCoverageTarget));
            INFO(kind_name(kind) << ", seed " << s + 11 << ": coverage with adaptation " << c_on << ", without "
                                 << c_off);
            CHECK(std::abs(c_on - kCoverageTarget) <= 0.04);
        }
        WARN(printed("%-13s: q10..q90 coverage with adaptation %.3f (worst seed %.3f off the target), "
                     "without %.3f", kind_name(kind), mean_on, worst_on, mean_off));
    }
}

TEST_CASE("Adaptation removes a persistent bias of the median (a quiet sensor)", "[engine][forecast][adaptation]") {
    constexpr std::size_t kTicks = 600;
    constexpr std::size_t kFrom = 200;
    constexpr std::uint32_t kSeeds = 6;
    constexpr double kSd = 0.002;  // make_series' quiet-sensor noise
    std::vector<std::vector<float>> series;
    for (std::uint32_t seed = 21; seed < 21 + kSeeds; ++seed) {
        series.push_back(make_series(Kind::kQuietSensor, seed, kTicks, kTicks, 0.0));
    }
    const auto on = forecast_all(series, 0, true);
    const auto off = forecast_all(series, 0, false);
    const std::size_t H = on.front().front().size() / 3;
    double mean_on = 0.0, mean_off = 0.0;
    for (std::uint32_t s = 0; s < kSeeds; ++s) {
        const double e_on = mean_over(origin_errors(on[s], series[s], kSd), kFrom, kTicks - H);
        const double e_off = mean_over(origin_errors(off[s], series[s], kSd), kFrom, kTicks - H);
        mean_on += e_on / kSeeds;
        mean_off += e_off / kSeeds;
        INFO("seed " << s + 21 << ": error with adaptation " << e_on << " noise sd, without " << e_off);
        CHECK(e_on < 0.5 * e_off);
    }
    WARN(printed("quiet sensor (noise 0.002 around 100): error with adaptation %.2f noise sd, without %.2f",
                 mean_on, mean_off));
}
