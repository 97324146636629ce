// The online adaptation (docs/forecast.md, "Online adaptation") with the shipped model,
// data/models/forecaster.safetensors, through StreamForecaster, on seeded series run twice:
// adaptation on and off. Errors are mean |q50 - actual| over horizons 1..H of one forecast, in
// units of the series' noise, so every kind reads on one scale.
//
// The level-shift case measures what issue 10 asked to prove, that the error recovers faster
// with adaptation than without. With the shipped model it does not: the model follows a level
// shift by itself within a few ticks (the anchor is the last value), while the forecasts made
// before the shift push off[h] by up to 3 eta_b per tick, h times for horizon h, and the offset
// then needs tens of ticks to unlearn what the model had already corrected. That case therefore
// prints its figures (WARN) and asserts only that with adaptation the error is back near the
// model's pre-shift level 150 ticks after the shift (the doc's "recovers ... within tens of
// ticks");
// the claim itself would be a test forced to pass. What adaptation does win, robustly over
// seeds and kinds, is asserted below it: the width holds the central interval at its target
// coverage, and the offset removes a persistent bias of the model's median.

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

enum class Kind { kNoisyLevel, kAr1, kSeasonal, kQuietSensor };

const char* kind_name(Kind kind) {
    switch (kind) {
        case Kind::kNoisyLevel: return "noisy level";
        case Kind::kAr1: return "AR(1) 0.8";
        case Kind::kSeasonal: return "seasonal P=12";
        case Kind::kQuietSensor: return "quiet sensor";
    }
    return "?";
}

std::uint32_t season_of(Kind kind) { return kind == Kind::kSeasonal ? 12 : 0; }

// A level of 100 plus noise of unit marginal sd (0.002 for the quiet sensor, a fifth of the
// 0.1 % scale floor of docs/forecast.md, so the model sees an almost constant series), and
// `shift` noise sds added from tick `shift_at` on.
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

}  // namespace

TEST_CASE("Adaptation after a level shift, measured against none: 150 ticks on, its error is back",
          "[engine][forecast][adaptation]") {
    // 400 ticks before the shift let the scale, level and adaptation settle (the longest time
    // constant is level_tau = 128); 300 after it hold the windows below.
    constexpr std::size_t kShiftAt = 400;
    constexpr std::size_t kTicks = 700;
    constexpr std::uint32_t kSeeds = 6;
    std::size_t late_checked = 0;
    for (const Kind kind : {Kind::kNoisyLevel, Kind::kAr1, Kind::kSeasonal}) {
        for (const double shift : {10.0, -4.0}) {
            std::vector<std::vector<float>> series;
            for (std::uint32_t seed = 1; seed <= kSeeds; ++seed) {
                series.push_back(make_series(kind, seed, kTicks, kShiftAt, shift));
            }
            const auto on = forecast_all(series, season_of(kind), true);
            const auto off = forecast_all(series, season_of(kind), false);
            const std::size_t H = on.front().front().size() / 3;
            const std::size_t end = kTicks - H;  // origins whose targets all exist
            // pre: origins whose targets all lie before the shift; after: the first 50 origins
            // that have seen it; late: 150..250 ticks after it.
            double pre[2] = {}, after[2] = {}, late[2] = {};
            std::vector<double> recovery[2];
            std::size_t faster = 0;
            double worst_late_ratio = 0.0;  // of one seed: error 150..250 after, adapted / unadapted before
            for (std::uint32_t s = 0; s < kSeeds; ++s) {
                std::size_t ticks_to_recover[2] = {};
                double seed_pre[2] = {}, seed_late[2] = {};
                for (int a = 0; a < 2; ++a) {
                    const auto errors = origin_errors(a == 0 ? on[s] : off[s], series[s], 1.0);
                    const double own_pre = mean_over(errors, kShiftAt - 200, kShiftAt - H);
                    const double own_late = mean_over(errors, kShiftAt + 150, kShiftAt + 250);
                    pre[a] += own_pre / kSeeds;
                    after[a] += mean_over(errors, kShiftAt, kShiftAt + 50) / kSeeds;
                    late[a] += own_late / kSeeds;
                    ticks_to_recover[a] = recovery_ticks(errors, own_pre, kShiftAt, end);
                    recovery[a].push_back(static_cast<double>(ticks_to_recover[a]));
                    seed_pre[a] = own_pre;
                    seed_late[a] = own_late;
                }
                faster += ticks_to_recover[0] < ticks_to_recover[1] ? 1 : 0;
                worst_late_ratio = std::max(worst_late_ratio, seed_late[0] / seed_pre[1]);
            }
            WARN(printed("%-13s shift %+3.0f sd: error (adapt on / off) before %.2f / %.2f, first 50 ticks "
                         "after %.2f / %.2f, 150..250 after %.2f / %.2f; median ticks to recover %.0f / %.0f; "
                         "adaptation faster on %zu of %u seeds; 150..250 after with it / before without, "
                         "worst seed %.2f",
                         kind_name(kind), shift, pre[0], pre[1], after[0], after[1], late[0], late[1],
                         median(recovery[0]), median(recovery[1]), faster, kSeeds, worst_late_ratio));
            // Against the model's own error before the shift without adaptation, a reference no
            // defect of the adaptation can move (its own pre-shift error would follow a run-away
            // offset). Over the seeds, not per seed: one seed's 100 origins of overlapping 24-tick
            // horizons vary a lot between windows; the seed means stayed within 1.16 times over
            // 16 seeds, while a run-away offset (up to 10 scales) is many times above it.
            INFO(kind_name(kind) << ", shift " << shift << " sd: with adaptation, error 150..250 ticks after the "
                                 << "shift " << late[0] << "; before it, without adaptation " << pre[1]);
            CHECK(late[0] <= 1.25 * pre[1]);
            ++late_checked;
        }
    }
    REQUIRE(late_checked == 3 * 2);
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
