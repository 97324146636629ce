// The forecasting engine (engine/forecast, docs/forecast.md): the `forecast` metadata, the
// ticks-v1 features against values worked out by hand, the quantile head and its adaptation
// rules, the stream pool (batched, chunked and threaded runs equal one stream at a time bit for
// bit; snapshots resume bit for bit; foreign snapshots are refused; the pool-full policies), and
// the golden fixture the PyTorch reference wrote (models/train/forecast/make_forecast_fixture.py).
// Comparisons of runs are bitwise (memcmp); only the fixture, float64 against our float32, has a
// tolerance.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>

#include "engine/forecast/quantile_readout.hpp"
#include "engine/forecast/stream_forecaster.hpp"
#include "engine/forecast/tick_features.hpp"
#include "engine/io/tick_parser.hpp"
#include "models/model_description.hpp"
#include "models/model_file.hpp"
#include "models/model_file_error.hpp"
#include "models/ssm_model.hpp"
#include "tests/support/editable_model.hpp"
#include "tests/support/fixture_file.hpp"

using namespace statestream::engine::forecast;
using statestream::engine::io::StreamIds;
using statestream::engine::io::Tick;
using statestream::models::ForecastSpec;
using statestream::models::ModelFile;
using statestream::models::ModelFileError;
using statestream::models::SsmModel;
using Catch::Matchers::Contains;

namespace {

namespace models = statestream::models;

const std::filesystem::path kFixtures = std::filesystem::path(STATESTREAM_DATA_DIR) / "fixtures";
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// The shipped spec's rates and time constants, at a small horizon and season for hand values.
ForecastSpec small_spec(std::uint32_t horizon, std::uint32_t max_season) {
    ForecastSpec spec;
    spec.version = 2;
    spec.horizon = horizon;
    spec.quantiles = {0.1, 0.5, 0.9};
    spec.scale_tau = 32;
    spec.level_tau = 128;
    spec.dt_tau = 32;
    spec.max_season = max_season;
    spec.adapt_offset_rate = 0.02;
    spec.adapt_width_rate = 0.05;
    spec.coverage = 0.8;
    spec.adapt_break_sigmas = 3.0;
    spec.adapt_shift_sigmas = 5.0;
    spec.adapt_pullback_ticks = 12;
    spec.adapt_pullback_prior = 1.0;
    return spec;
}

// The doc's scale(last, s2).
double scale_of(double last, double s2) { return std::sqrt(s2 + (0.001 * last) * (0.001 * last) + 1e-12); }

std::array<float, kTickFeatureCount> step(TickFeatures& features, std::int64_t time_ns, float value,
                                          std::uint32_t season = 0) {
    std::array<float, kTickFeatureCount> x{};
    features.step(time_ns, value, season, x);
    return x;
}

constexpr std::int64_t kSecond = 1'000'000'000;

struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& name) {
        static std::atomic<int> serial{0};
        path = std::filesystem::temp_directory_path() /
               ("ss_forecast_" + name + "_" + std::to_string(::getpid()) + "_" +
                std::to_string(serial.fetch_add(1)));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
};

// A model and the file it reads its weights from (SsmModel keeps a pointer to the file).
struct LoadedModel {
    explicit LoadedModel(ModelFile loaded) : file(std::move(loaded)), model(file) {}
    ModelFile file;
    SsmModel model;
};

const LoadedModel& fixture_model() {
    static const LoadedModel loaded(ModelFile::load(kFixtures / "forecast_fixture.safetensors"));
    return loaded;
}

// The fixture model with one head bias changed: the same shapes, another fingerprint.
const LoadedModel& foreign_model() {
    static const std::vector<std::byte> bytes = [] {
        auto edited = statestream::test::EditableModel::from_bytes(
            statestream::test::read_file_bytes(kFixtures / "forecast_fixture.safetensors"));
        edited.poke_float("head.bias", 0, 0.125f);
        return edited.bytes();
    }();
    static const statestream::test::AlignedBytes aligned(bytes);
    static const LoadedModel loaded(ModelFile::parse(aligned.span(), "foreign.safetensors"));
    return loaded;
}

// Seeded ticks over `streams` streams: random walks with gaps (some streams start with one),
// equal timestamps, irregular steps; each stream's ticks in time order, the streams interleaved.
struct Feed {
    std::unique_ptr<StreamIds> ids = std::make_unique<StreamIds>(64);
    std::vector<Tick> ticks;
};

Feed random_feed(std::size_t streams, std::size_t count, std::uint32_t seed) {
    Feed feed;
    std::mt19937 rng(seed);
    std::vector<std::int64_t> time(streams);
    std::vector<double> level(streams);
    for (std::size_t s = 0; s < streams; ++s) {
        // Names with characters a file name cannot hold as they are.
        std::string name = "s";  // appended: GCC 12 warns falsely on "s" + std::string (-Wrestrict)
        name += std::to_string(s);
        if (s == 1) name = "a/b c";
        if (s == 2) name = "ünï";
        REQUIRE(feed.ids->find_or_add(name).value() == s);
        time[s] = 1'700'000'000 * kSecond + static_cast<std::int64_t>(s) * 7 * kSecond;
        level[s] = s % 3 == 0 ? 100.0 : s % 3 == 1 ? 0.0 : 20000.0;
    }
    std::uniform_int_distribution<std::size_t> pick(0, streams - 1);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::normal_distribution<double> noise(0.0, 1.0);
    std::vector<std::size_t> seen(streams, 0);
    for (std::size_t i = 0; i < count; ++i) {
        // Bursty arrivals: often the same stream several times in a row, so rounds vary.
        const std::size_t s = (i > 0 && unit(rng) < 0.3) ? feed.ticks.back().stream : pick(rng);
        const double u = unit(rng);
        if (u > 0.05) time[s] += static_cast<std::int64_t>((0.2 + 3.0 * unit(rng)) * kSecond);
        level[s] += noise(rng) * (1.0 + 0.01 * std::abs(level[s]));
        const bool gap = (seen[s] == 0 && s % 4 == 3) || unit(rng) < 0.06;
        feed.ticks.push_back({static_cast<std::uint32_t>(s), time[s],
                              gap ? kNaN : static_cast<float>(level[s]), {}});
        ++seen[s];
    }
    return feed;
}

struct Recorded {
    std::uint32_t stream;
    std::int64_t time_ns;
    float value;
    std::vector<float> q;  // q10 {H}, q50 {H}, q90 {H}
};

std::vector<Recorded> run(StreamForecaster& forecaster, std::span<const Tick> ticks, std::size_t batch) {
    std::vector<Recorded> out;
    for (std::size_t at = 0; at < ticks.size(); at += batch) {
        const auto part = ticks.subspan(at, std::min(batch, ticks.size() - at));
        forecaster.process(part, [&](const Forecast& f) {
            Recorded r{f.stream, f.time_ns, f.value, {}};
            r.q.insert(r.q.end(), f.q10.begin(), f.q10.end());
            r.q.insert(r.q.end(), f.q50.begin(), f.q50.end());
            r.q.insert(r.q.end(), f.q90.begin(), f.q90.end());
            out.push_back(std::move(r));
        });
    }
    return out;
}

// The index of the first forecast that differs in any bit, or -1 when both runs are equal.
long first_difference(const std::vector<Recorded>& a, const std::vector<Recorded>& b) {
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
        if (a[i].stream != b[i].stream || a[i].time_ns != b[i].time_ns ||
            std::memcmp(&a[i].value, &b[i].value, sizeof(float)) != 0 || a[i].q.size() != b[i].q.size() ||
            std::memcmp(a[i].q.data(), b[i].q.data(), a[i].q.size() * sizeof(float)) != 0) {
            return static_cast<long>(i);
        }
    }
    return a.size() == b.size() ? -1 : static_cast<long>(std::min(a.size(), b.size()));
}

bool any_message_contains(const std::vector<std::string>& messages, const std::string& text) {
    return std::any_of(messages.begin(), messages.end(),
                       [&](const std::string& m) { return m.find(text) != std::string::npos; });
}

std::string joined(const std::vector<std::string>& messages) {
    std::string all;
    for (const auto& m : messages) all += m + "\n";
    return all;
}

// A forecasting model's metadata, by hand: model_description's checks need no tensors.
std::map<std::string, std::string> forecast_metadata(const nlohmann::json& forecast,
                                                     std::uint32_t input_dim = 6,
                                                     std::uint32_t output_dim = 9,
                                                     const char* frontend = "ticks") {
    const nlohmann::json architecture = {
        {"input_dim", input_dim}, {"d_model", 8}, {"output_dim", output_dim},
        {"layers", {{{"type", "mamba2"}, {"d_state", 4}, {"head_dim", 4}, {"expand", 2},
                     {"d_conv", 4}, {"n_groups", 1}}}}};
    std::map<std::string, std::string> metadata = {
        {"format_version", "1"},
        {"task", "forecast"},
        {"frontend", nlohmann::json{{"type", frontend}}.dump()},
        {"architecture", architecture.dump()},
        {"recipe", R"({"name": "hand-made"})"}};
    if (!forecast.is_null()) metadata["forecast"] = forecast.dump();
    return metadata;
}

nlohmann::json shipped_forecast(std::uint32_t horizon = 3) {
    return {{"version", 2}, {"horizon", horizon}, {"quantiles", {0.1, 0.5, 0.9}},
            {"scale_tau", 32}, {"level_tau", 128}, {"dt_tau", 32}, {"max_season", 64},
            {"adapt_offset_rate", 0.02}, {"adapt_width_rate", 0.05}, {"coverage", 0.8},
            {"adapt_break_sigmas", 3.0}, {"adapt_shift_sigmas", 5.0}, {"adapt_pullback_ticks", 12},
            {"adapt_pullback_prior", 1.0}};
}

}  // namespace

TEST_CASE("Forecast metadata: every field is read, and each defect is refused by name",
          "[engine][forecast][metadata]") {
    const auto description =
        models::parse_model_description(forecast_metadata(shipped_forecast()), "model.safetensors");
    const ForecastSpec& spec = description.forecast;
    CHECK(spec.version == 2);
    CHECK(spec.horizon == 3);
    CHECK(spec.quantiles == std::array<double, 3>{0.1, 0.5, 0.9});
    CHECK(spec.scale_tau == 32);
    CHECK(spec.level_tau == 128);
    CHECK(spec.dt_tau == 32);
    CHECK(spec.max_season == 64);
    CHECK(spec.adapt_offset_rate == 0.02);
    CHECK(spec.adapt_width_rate == 0.05);
    CHECK(spec.coverage == 0.8);
    CHECK(spec.adapt_break_sigmas == 3.0);
    CHECK(spec.adapt_shift_sigmas == 5.0);
    CHECK(spec.adapt_pullback_ticks == 12);
    CHECK(spec.adapt_pullback_prior == 1.0);

    const auto refused = [](const std::map<std::string, std::string>& metadata) -> std::string {
        try {
            (void)models::parse_model_description(metadata, "model.safetensors");
        } catch (const ModelFileError& error) {
            return error.what();
        }
        return "(accepted)";
    };
    const auto with = [](const char* field, const nlohmann::json& value) {
        nlohmann::json doc = shipped_forecast();
        if (value.is_null()) doc.erase(field);
        else doc[field] = value;
        return forecast_metadata(doc);
    };
    CHECK_THAT(refused(forecast_metadata(nullptr)), Contains("model.safetensors") && Contains("\"forecast\""));
    CHECK_THAT(refused(with("version", 1)), Contains("forecast.version") && Contains("version 2") &&
                                               Contains("re-export"));
    CHECK_THAT(refused(with("horizon", 0)), Contains("forecast.horizon") && Contains("1..256"));
    CHECK_THAT(refused(with("horizon", 257)), Contains("forecast.horizon"));
    CHECK_THAT(refused(with("quantiles", {0.1, 0.4, 0.9})), Contains("forecast.quantiles"));
    CHECK_THAT(refused(with("quantiles", {0.5, 0.5, 0.9})), Contains("forecast.quantiles"));
    CHECK_THAT(refused(with("quantiles", {0.1, 0.5})), Contains("forecast.quantiles"));
    CHECK_THAT(refused(with("scale_tau", 0)), Contains("forecast.scale_tau") && Contains("> 0"));
    CHECK_THAT(refused(with("level_tau", -1)), Contains("forecast.level_tau"));
    CHECK_THAT(refused(with("dt_tau", nullptr)), Contains("forecast.dt_tau is missing"));
    CHECK_THAT(refused(with("max_season", 1025)), Contains("forecast.max_season") && Contains("0..1024"));
    CHECK_THAT(refused(with("adapt_offset_rate", -0.01)), Contains("forecast.adapt_offset_rate"));
    CHECK_THAT(refused(with("adapt_offset_rate", 1.5)), Contains("forecast.adapt_offset_rate") && Contains("[0, 1]"));
    CHECK_THAT(refused(with("adapt_width_rate", "fast")), Contains("forecast.adapt_width_rate"));
    CHECK_THAT(refused(with("adapt_break_sigmas", 0)), Contains("forecast.adapt_break_sigmas") && Contains("> 0"));
    CHECK_THAT(refused(with("adapt_shift_sigmas", nullptr)), Contains("forecast.adapt_shift_sigmas is missing"));
    CHECK_THAT(refused(with("adapt_pullback_ticks", 1025)), Contains("forecast.adapt_pullback_ticks") && Contains("0..1024"));
    CHECK_THAT(refused(with("adapt_pullback_ticks", 2.5)), Contains("forecast.adapt_pullback_ticks"));
    CHECK_THAT(refused(with("adapt_pullback_prior", -1)), Contains("forecast.adapt_pullback_prior"));
    CHECK_THAT(refused(with("coverage", 1.0)), Contains("forecast.coverage") && Contains("(0, 1)"));
    CHECK_THAT(refused(forecast_metadata(shipped_forecast(), 6, 10)),
               Contains("architecture.output_dim") && Contains("3 * horizon = 9"));
    CHECK_THAT(refused(forecast_metadata(shipped_forecast(), 5, 9)),
               Contains("architecture.input_dim") && Contains("6"));
    CHECK_THAT(refused(forecast_metadata(shipped_forecast(), 6, 9, "none")), Contains("frontend.type"));

    // Other tasks neither need the key nor get a spec.
    auto other = forecast_metadata(nullptr);
    other["task"] = "test";
    CHECK(models::parse_model_description(other, "model.safetensors").forecast.horizon == 0);
}

TEST_CASE("ticks-v1: the first tick, a difference, a shorter step, as worked out by hand",
          "[engine][forecast][features]") {
    TickFeatures features(small_spec(3, 4));
    const double a_s = std::exp(-1.0 / 32), a_l = std::exp(-1.0 / 128), a_d = std::exp(-1.0 / 32);

    // First tick: nothing to compare with.
    auto x = step(features, 10 * kSecond, 100.0f);
    CHECK(x == std::array<float, 6>{0, 0, 0, 0, 0, 0});
    REQUIRE(features.has_last());
    CHECK(features.scale() == Approx(scale_of(100, 0)));  // 0.1: the 0.1 % of the level

    // +3 after 2 s: 30 scales, so x0 and x1 sit at their clamps; the first step sets ld.
    x = step(features, 12 * kSecond, 103.0f);
    CHECK(x[0] == 4.0f);  // clamp(30, -8, 8) / 2
    CHECK(x[1] == 3.0f);  // clamp(30, -30, 30) / 10
    CHECK(x[2] == 0.0f);  // the first time step only starts the mean
    CHECK(x[3] == 0.0f);
    const double s2 = 9.0;  // the first difference squared
    // The state is kept in float (updated in double), so the hand values round as it does.
    double m = static_cast<float>(100.0 + (1 - a_l) * 3.0);
    CHECK(features.scale() == Approx(scale_of(103, s2)));

    // -3 after 1 s: ln 1 - ln 2 against the mean; sigma from before the update.
    x = step(features, 13 * kSecond, 100.0f);
    const double sigma = scale_of(103, s2);
    CHECK(x[0] == Approx(-3.0 / sigma / 2).epsilon(1e-6));
    CHECK(x[1] == Approx((100.0 - m) / sigma / 10).epsilon(1e-6));
    CHECK(x[2] == Approx((0.0 - std::log(2.0)) / 2).epsilon(1e-6));
    const double s2_after = static_cast<float>(a_s * s2 + (1 - a_s) * 9.0);
    CHECK(features.scale() == Approx(scale_of(100, s2_after)).epsilon(1e-6));

    // Equal timestamps count as 1 ns: ln(1e-9) is far below the mean, so x2 is clamped.
    const double ld = std::log(2.0) + (1 - a_d) * (0.0 - std::log(2.0));
    x = step(features, 13 * kSecond, 100.0f);
    CHECK(x[2] == -2.5f);
    CHECK(std::log(1e-9) - ld < -5.0);
    CHECK(x[0] == 0.0f);  // no change
    CHECK(features.ticks() == 4);
}

TEST_CASE("ticks-v1: a gap changes nothing but is a tick, and a leading gap gives no value",
          "[engine][forecast][features]") {
    TickFeatures features(small_spec(3, 4));
    auto x = step(features, 0, kNaN);
    CHECK(x == std::array<float, 6>{0, 0, 0, 1, 0, 0});
    CHECK_FALSE(features.has_last());

    step(features, 1 * kSecond, 50.0f);
    step(features, 2 * kSecond, 52.0f);
    REQUIRE(features.has_last());
    const double sigma = features.scale();
    const double a_l = std::exp(-1.0 / 128);
    const double m = 50.0 + (1 - a_l) * 2.0;
    x = step(features, 3 * kSecond, kNaN);
    CHECK(x[0] == 0.0f);
    CHECK(x[1] == Approx((52.0 - m) / sigma / 10).epsilon(1e-6));  // last against the mean
    CHECK(x[2] == 0.0f);  // the same step as before: l - ld = 0
    CHECK(x[3] == 1.0f);
    CHECK(features.last() == 52.0f);
    CHECK(features.scale() == sigma);  // bit for bit: s2 and last untouched
    CHECK(features.ticks() == 4);
}

TEST_CASE("ticks-v1: the season is usable once ago(P) is a value, and anchors follow it",
          "[engine][forecast][features]") {
    TickFeatures features(small_spec(3, 4));
    step(features, 1 * kSecond, 1.0f, 2);
    auto x = step(features, 2 * kSecond, 2.0f, 2);
    CHECK(x[5] == 0.0f);  // ago(2) does not exist yet
    CHECK_FALSE(features.season_usable(2));
    x = step(features, 3 * kSecond, 3.0f, 2);
    REQUIRE(features.season_usable(2));
    CHECK(x[5] == 1.0f);
    CHECK(x[4] == Approx((2.0 - 1.0) / features.scale() / 10).epsilon(1e-6));  // ago(1) - ago(2)
    std::array<double, 3> b{};
    features.anchors(2, b);
    CHECK(b[0] == 3.0 + (2.0 - 1.0));  // h 1: j = 1, ago(1) - ago(2)
    CHECK(b[1] == 3.0 + (3.0 - 1.0));  // h 2: j = 2, ago(0) - ago(2)
    CHECK(b[2] == 3.0 + (2.0 - 1.0));  // h 3: j = 1 again
    features.anchors(0, b);
    CHECK(b == std::array<double, 3>{3.0, 3.0, 3.0});  // no season: plain last

    // ago(P) before the first value is NaN: unusable until the ring holds P + 1 values.
    TickFeatures late(small_spec(3, 4));
    step(late, 1 * kSecond, kNaN, 2);
    step(late, 2 * kSecond, 5.0f, 2);
    x = step(late, 3 * kSecond, 6.0f, 2);
    CHECK(x[4] == 0.0f);
    CHECK(x[5] == 0.0f);
    late.anchors(2, b);
    CHECK(b == std::array<double, 3>{6.0, 6.0, 6.0});
    x = step(late, 4 * kSecond, kNaN, 2);  // a gap is forward-filled: ago(2) = 5 is a value
    CHECK(x[5] == 1.0f);
    CHECK(x[4] == Approx((6.0 - 5.0) / late.scale() / 10).epsilon(1e-6));
}

TEST_CASE("ticks-v1: a saved state restores bit for bit and continues identically",
          "[engine][forecast][features]") {
    const ForecastSpec spec = small_spec(3, 5);
    TickFeatures a(spec);
    std::mt19937 rng(3);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    std::int64_t t = -5 * kSecond;  // a negative time, for the int64 pieces
    for (int i = 0; i < 17; ++i) step(a, t += kSecond, i % 5 == 2 ? kNaN : 10.0f + noise(rng), 3);
    std::vector<float> saved(a.state_floats());
    a.save_state(saved);
    TickFeatures b(spec);
    REQUIRE(b.restore_state(saved));
    std::vector<float> again(b.state_floats());
    b.save_state(again);
    REQUIRE(std::memcmp(saved.data(), again.data(), saved.size() * sizeof(float)) == 0);
    for (int i = 0; i < 9; ++i) {
        const float v = i == 4 ? kNaN : noise(rng);
        const auto xa = step(a, t += 3, v, 3);
        const auto xb = step(b, t, v, 3);
        REQUIRE(std::memcmp(xa.data(), xb.data(), sizeof xa) == 0);
    }
    saved[15] = 99.0f;  // the ring position (after 15 scalars): beyond the 6 slots
    TickFeatures c(spec);
    CHECK_FALSE(c.restore_state(saved));
}

TEST_CASE("Quantile head: q10 <= q50 <= q90 for any outputs, pull-backs, offsets and widths",
          "[engine][forecast][head]") {
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> wide(-60.0f, 60.0f);
    std::uniform_real_distribution<double> pullback(0.0, 1.0), offset(-3.0, 3.0), width(-2.0, 2.0);
    for (int i = 0; i < 20000; ++i) {
        const std::array<float, 3> raw = {wide(rng), wide(rng), wide(rng)};
        const QuantileZ z = quantile_head(raw, pullback(rng), offset(rng), width(rng));
        INFO("raw " << raw[0] << ", " << raw[1] << ", " << raw[2]);
        REQUIRE(z.z10 <= z.z50);
        REQUIRE(z.z50 <= z.z90);
    }
    // The plain head, worked out: softplus(0) = ln 2 either side of o0.
    const QuantileZ z = quantile_head(std::array<float, 3>{1.5f, 0.0f, 0.0f}, 1.0, 0.0, 0.0);
    CHECK(z.z50 == 1.5);
    CHECK(z.z10 == Approx(1.5 - std::log(2.0)));
    CHECK(z.z90 == Approx(1.5 + std::log(2.0)));
    // The adapted head: beta scales the median's move, the offset adds to it, e^g scales each
    // half-width.
    const QuantileZ adapted = quantile_head(std::array<float, 3>{-2.0f, 0.0f, 0.0f}, 0.25, 0.5, std::log(3.0));
    CHECK(adapted.z50 == Approx(0.25 * -2.0 + 0.5));
    CHECK(adapted.z10 == Approx(0.0 - 3.0 * std::log(2.0)));
    CHECK(adapted.z90 == Approx(0.0 + 3.0 * std::log(2.0)));
    // softplus(-50) is about e^-50: the interval collapses onto the median, never past it.
    const QuantileZ narrow = quantile_head(std::array<float, 3>{0.0f, -50.0f, -50.0f}, 1.0, 0.0, 0.0);
    CHECK(narrow.z10 < 0.0);
    CHECK(narrow.z90 > 0.0);

    // Through the readout, in value units, at a large level and a tiny scale.
    QuantileReadout readout(small_spec(4, 0), true);
    std::vector<float> raw(12), q10(4), q50(4), q90(4);
    const std::vector<double> anchors(4, 20000.0);
    for (int i = 0; i < 2000; ++i) {
        for (float& o : raw) o = wide(rng);
        readout.forecast(raw, anchors, i % 2 ? 1e-6 : 7.5, i % 3 == 0, q10, q50, q90);
        for (int h = 0; h < 4; ++h) {
            REQUIRE(q10[h] <= q50[h]);
            REQUIRE(q50[h] <= q90[h]);
        }
        readout.adapt(i % 7 == 0 ? kNaN : 20000.0f + wide(rng));
    }
}

TEST_CASE("Adaptation: offsets, widths, breaks and the pull-back follow the doc's rules",
          "[engine][forecast][adapt]") {
    const ForecastSpec spec = small_spec(2, 0);  // rho 0.02, eta_g 0.05, breaks 3, shifts 5, W 12
    const double rho = spec.adapt_offset_rate;
    const double miss_target = 1.0 - spec.coverage;  // as the readout computes it
    const std::vector<float> zero_raw(6, 0.0f);      // z50 = 0, z10/z90 = -/+ ln 2
    const std::vector<double> ten(2, 10.0);
    std::vector<float> q10(2), q50(2), q90(2);

    SECTION("the first residual, worked out") {
        QuantileReadout readout(spec, true);
        readout.adapt(10.0f);  // nothing made yet: nothing to learn
        CHECK(readout.offset(0) == 0.0);
        CHECK(readout.pullback() == 1.0);
        readout.forecast(zero_raw, ten, 1.0, false, q10, q50, q90);
        CHECK(q50[0] == 10.0f);
        CHECK(q90[0] == static_cast<float>(10.0 + std::log(2.0)));
        // 11 arrives: the 1-step forecast was 1 scale low (no break) and missed its interval.
        readout.adapt(11.0f);
        const double mu = static_cast<float>(rho * 1.0), s = static_cast<float>(rho * 1.0);
        const double cut = rho * 1 * (s - mu * mu);
        CHECK(readout.offset(0) == Approx(mu - cut / mu).epsilon(1e-12));
        CHECK(readout.log_widths()[0] == static_cast<float>(0.05 * (1.0 - miss_target)));
        CHECK(readout.offset(1) == 0.0);  // no forecast was made 2 ticks ago
        CHECK(readout.log_widths()[1] == 0.0f);
        CHECK(readout.pullback() == 1.0);  // no shift: beta stays 1
        readout.forecast(zero_raw, ten, 2.0, false, q10, q50, q90);
        const double g = readout.log_widths()[0];
        CHECK(q50[0] == static_cast<float>(10.0 + 2.0 * readout.offset(0)));
        CHECK(q10[0] == static_cast<float>(10.0 + 2.0 * (readout.offset(0) - std::exp(g) * std::log(2.0))));
        CHECK(q50[1] == 10.0f);
        // A gap scores nothing.
        const double before = readout.offset(0);
        readout.adapt(kNaN);
        CHECK(readout.offset(0) == before);
    }

    SECTION("a persistent bias becomes the offset; noise does not") {
        QuantileReadout biased(spec, true), noisy(spec, true);
        for (int i = 0; i < 600; ++i) {
            biased.forecast(zero_raw, ten, 1.0, false, q10, q50, q90);
            biased.adapt(11.0f);  // always 1 scale above the model's median, never a break
            noisy.forecast(zero_raw, ten, 1.0, false, q10, q50, q90);
            noisy.adapt(i % 2 ? 11.0f : 9.0f);
        }
        CHECK(biased.offset(0) == Approx(1.0).margin(1e-4));
        CHECK(biased.offset(1) == Approx(1.0).margin(1e-4));
        biased.forecast(zero_raw, ten, 1.0, false, q10, q50, q90);
        CHECK(q50[1] == Approx(11.0f).margin(1e-3));
        CHECK(noisy.offset(0) == 0.0);  // a mean of +-1 residuals, far within its noise
        CHECK(noisy.offset(1) == 0.0);
        // Clamps: 5 scales off at h = 2 counts as 3 (h = 1 is on the median: no break), so the
        // offset stops 2 scales short and an interval of width ~0 misses every time; widths
        // stop at e^+-2 however long the misses or the hits last.
        QuantileReadout far(spec, true), calm(spec, true);
        const std::vector<float> far_raw = {0.0f, 0.0f, 0.0f, -5.0f, -50.0f, -50.0f};
        for (int i = 0; i < 1000; ++i) {
            far.forecast(far_raw, ten, 1.0, false, q10, q50, q90);
            far.adapt(10.0f);
            calm.forecast(zero_raw, ten, 1.0, false, q10, q50, q90);
            calm.adapt(10.0f);
        }
        CHECK(far.offset(1) == Approx(3.0).margin(1e-4));
        CHECK(far.log_widths()[1] == 2.0f);
        CHECK(calm.log_widths()[0] == -2.0f);
        CHECK(calm.offset(0) == 0.0);
    }

    SECTION("a break forgets the forecasts made before it") {
        QuantileReadout readout(spec, true);
        readout.forecast(zero_raw, ten, 1.0, false, q10, q50, q90);
        readout.forecast(zero_raw, ten, 1.0, false, q10, q50, q90);
        readout.adapt(14.0f);  // 4 scales off the 1-step median: a break, not a shift
        CHECK(readout.log_widths()[0] == 0.0f);
        CHECK(readout.log_widths()[1] == 0.0f);
        CHECK(readout.offset(0) == 0.0);
        CHECK(readout.pullback() == 1.0);
        readout.adapt(14.0f);  // both forecasts are forgotten: nothing is scored
        CHECK(readout.log_widths()[0] == 0.0f);
        CHECK(readout.log_widths()[1] == 0.0f);
        readout.forecast(zero_raw, std::vector<double>(2, 14.0), 1.0, false, q10, q50, q90);
        readout.adapt(14.5f);  // a forecast made after the break is scored again
        CHECK(readout.log_widths()[0] == static_cast<float>(0.05 * (0.0 - miss_target)));
    }

    SECTION("after a shift, beta is how much of the model's move the values bear out") {
        // The model forecasts 2 scales back down at every horizon.
        const std::vector<float> back = {-2.0f, 0.0f, 0.0f, -2.0f, 0.0f, 0.0f};
        const std::vector<double> sixteen(2, 16.0);
        QuantileReadout level(spec, true);
        level.forecast(back, ten, 1.0, false, q10, q50, q90);   // median 8
        level.adapt(16.0f);                                     // 8 scales off: a shift
        CHECK(level.pullback() == 1.0);                         // no evidence yet: w0 / w0
        level.forecast(back, sixteen, 1.0, false, q10, q50, q90);
        CHECK(q50[0] == 14.0f);
        level.adapt(16.0f);  // the level stayed: u = 0 against zeta = -2
        CHECK(level.pullback() == Approx(1.0 / (1.0 + 4.0)).epsilon(1e-12));
        level.forecast(back, sixteen, 1.0, false, q10, q50, q90);
        CHECK(q50[0] == static_cast<float>(16.0 + 0.2 * -2.0 + level.offset(0)));
        CHECK(q50[1] == static_cast<float>(16.0 + 0.2 * -2.0 + level.offset(1)));
        // With a usable season the anchors carry the shift for a season: beta is not applied.
        level.forecast(back, sixteen, 1.0, true, q10, q50, q90);
        CHECK(q50[0] == static_cast<float>(16.0 - 2.0 + level.offset(0)));
        // W = 12 forecasts from the shift on use beta; then it is 1 again.
        for (int i = 0; i < 10; ++i) {
            level.adapt(16.0f);
            CHECK(level.pullback() < 1.0);
            level.forecast(back, sixteen, 1.0, false, q10, q50, q90);
        }
        level.adapt(16.0f);
        CHECK(level.pullback() == 1.0);

        // A spike: the value comes back as the model said, and beta stays 1.
        QuantileReadout spike(spec, true);
        const std::vector<float> back_8 = {-8.0f, 0.0f, 0.0f, -8.0f, 0.0f, 0.0f};
        spike.forecast(zero_raw, ten, 1.0, false, q10, q50, q90);
        spike.adapt(20.0f);  // a shift
        spike.forecast(back_8, std::vector<double>(2, 20.0), 1.0, false, q10, q50, q90);
        spike.adapt(12.0f);  // u = -8 against zeta = -8
        CHECK(spike.pullback() == 1.0);
    }

    SECTION("--no-adapt: the plain head whatever arrives, and a restored state does not bring it back") {
        QuantileReadout pushed(spec, true), fixed(spec, false);
        for (int i = 0; i < 50; ++i) {
            pushed.forecast(zero_raw, ten, 1.0, false, q10, q50, q90);
            pushed.adapt(12.0f);
            fixed.forecast(zero_raw, ten, 1.0, false, q10, q50, q90);
            fixed.adapt(12.0f);
        }
        CHECK(fixed.offset(0) == 0.0);
        CHECK(fixed.log_widths()[0] == 0.0f);
        CHECK(fixed.pullback() == 1.0);
        REQUIRE(pushed.offset(0) > 1.0);
        std::vector<float> saved(pushed.state_floats());
        pushed.save_state(saved);
        REQUIRE(fixed.restore_state(saved));
        CHECK(fixed.offset(0) == 0.0);
        fixed.forecast(zero_raw, ten, 1.0, false, q10, q50, q90);
        CHECK(q50[0] == 10.0f);

        // restore_state refuses what no stream could have saved, and changes nothing then.
        QuantileReadout other(spec, true);
        REQUIRE(other.restore_state(saved));
        CHECK(other.offset(0) == pushed.offset(0));
        const std::size_t H = 2;
        auto broken = saved;
        broken[H] = 3.5f;  // mu beyond the residual clamp
        CHECK_FALSE(other.restore_state(broken));
        broken = saved;
        broken[3 * H + 2] = 13.0f;  // ticks since the shift beyond W
        CHECK_FALSE(other.restore_state(broken));
        broken = saved;
        broken.back() = 2.0f;  // the ring position beyond H - 1
        CHECK_FALSE(other.restore_state(broken));
        CHECK(other.offset(0) == pushed.offset(0));
    }
}

TEST_CASE("Forecaster: batched, chunked, threaded and one-at-a-time runs agree bit for bit",
          "[engine][forecast][batch]") {
    const auto& model = fixture_model().model;
    const Feed feed = random_feed(37, 3000, 5);  // 37 streams: no chunk size divides them
    ForecasterOptions options;
    options.season = 5;
    options.max_streams = 40;

    options.batched = false;
    StreamForecaster single(model, *feed.ids, options);
    const auto one_at_a_time = run(single, feed.ticks, 3000);

    options.batched = true;
    options.chunk_streams = 5;
    options.threads = 0;
    StreamForecaster parallel(model, *feed.ids, options);
    const auto batched = run(parallel, feed.ticks, 500);

    options.chunk_streams = 64;
    options.threads = 1;
    options.max_pass_ticks = 7;  // passes shorter than a round of all streams
    StreamForecaster serial(model, *feed.ids, options);
    const auto small_passes = run(serial, feed.ticks, 33);

    REQUIRE(one_at_a_time.size() > 2500);
    CHECK(first_difference(one_at_a_time, batched) == -1);
    CHECK(first_difference(one_at_a_time, small_passes) == -1);

    const ForecasterStats& stats = parallel.stats();
    CHECK(stats.ticks == 3000);
    CHECK(stats.forecasts == one_at_a_time.size());
    CHECK(stats.forecasts + stats.ticks_before_value == stats.ticks);
    CHECK(stats.ticks_before_value >= 9);  // every fourth stream starts with a gap
    CHECK(stats.streams_live == 37);
    CHECK(stats.refused == 0);
    CHECK(stats.bytes_per_stream > model.state_floats() * sizeof(float));
    for (const Recorded& r : batched) REQUIRE(r.q.size() == 3 * 24);
}

TEST_CASE("Forecaster: the emitted horizon is a prefix of the model's", "[engine][forecast][batch]") {
    const auto& model = fixture_model().model;
    const Feed feed = random_feed(4, 200, 9);
    ForecasterOptions options;
    StreamForecaster all(model, *feed.ids, options);
    options.horizon = 5;
    StreamForecaster five(model, *feed.ids, options);
    CHECK(five.horizon() == 5);
    CHECK(five.model_horizon() == 24);
    const auto a = run(all, feed.ticks, 64);
    const auto b = run(five, feed.ticks, 64);
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        for (std::size_t k = 0; k < 3; ++k) {
            REQUIRE(std::memcmp(&a[i].q[k * 24], &b[i].q[k * 5], 5 * sizeof(float)) == 0);
        }
    }
    options.horizon = 25;
    CHECK_THROWS_WITH(StreamForecaster(model, *feed.ids, options), Contains("horizon 25") && Contains("24"));
    options.horizon = 0;
    options.season = 65;
    CHECK_THROWS_WITH(StreamForecaster(model, *feed.ids, options), Contains("season 65") && Contains("2..64"));
    options.season = 1;
    CHECK_THROWS_WITH(StreamForecaster(model, *feed.ids, options), Contains("season 1"));
}

TEST_CASE("Forecaster: save_all mid-stream, then a new process resumes bit for bit",
          "[engine][forecast][snapshot]") {
    const auto& model = fixture_model().model;
    const Feed feed = random_feed(12, 1400, 21);
    const std::span<const Tick> ticks(feed.ticks);
    ForecasterOptions options;
    options.season = 7;
    options.chunk_streams = 4;

    StreamForecaster uninterrupted(model, *feed.ids, options);
    const auto first_half = run(uninterrupted, ticks.first(700), 100);
    const auto second_half = run(uninterrupted, ticks.subspan(700), 100);

    TempDir dir("resume");
    options.state_dir = dir.path;
    std::size_t live = 0;
    {
        StreamForecaster before(model, *feed.ids, options);
        CHECK(first_difference(run(before, ticks.first(700), 100), first_half) == -1);
        live = before.stats().streams_live;
        CHECK(before.save_all() == live);
        CHECK(before.stats().saved == live);
    }
    CHECK(std::filesystem::exists(dir.path / "a%2Fb%20c.state"));
    CHECK(std::filesystem::exists(dir.path / "%C3%BCn%C3%AF.state"));

    StreamForecaster after(model, *feed.ids, options);
    const auto resumed = run(after, ticks.subspan(700), 100);
    CHECK(after.stats().restored == live);
    CHECK(after.stats().restore_failures == 0);
    INFO(joined(after.take_messages()));
    CHECK(first_difference(resumed, second_half) == -1);

    // Without the state directory the streams start over, and the forecasts do differ.
    options.state_dir.clear();
    StreamForecaster fresh(model, *feed.ids, options);
    CHECK(first_difference(run(fresh, ticks.subspan(700), 100), second_half) != -1);
}

TEST_CASE("Forecaster: a snapshot of another model, version or garbage is refused by name, "
          "and the stream starts fresh", "[engine][forecast][snapshot]") {
    const auto& model = fixture_model().model;
    const Feed feed = random_feed(6, 600, 33);
    const std::span<const Tick> ticks(feed.ticks);
    TempDir dir("foreign");
    ForecasterOptions options;
    options.state_dir = dir.path;
    {
        StreamForecaster foreign(foreign_model().model, *feed.ids, options);
        (void)run(foreign, ticks.first(300), 300);
        REQUIRE(foreign.save_all() == 6);
    }
    // s0: another format version; s3: not a snapshot at all; the rest: another model.
    auto edited = statestream::test::EditableModel::from_bytes(
        statestream::test::read_file_bytes(dir.path / "s0.state"));
    edited.header["__metadata__"]["statestream_forecast_state"] = "2";
    statestream::test::write_file_bytes(dir.path / "s0.state", edited.bytes());
    statestream::test::write_file_bytes(dir.path / "s3.state",
                                        std::vector<std::byte>(40, std::byte{0x7b}));

    options.state_dir = dir.path;
    StreamForecaster resumed(model, *feed.ids, options);
    const auto got = run(resumed, ticks.subspan(300), 300);
    const auto messages = resumed.take_messages();
    INFO(joined(messages));
    CHECK(resumed.stats().restored == 0);
    CHECK(resumed.stats().restore_failures == 6);
    CHECK(any_message_contains(messages, "s0.state: is forecast snapshot format version \"2\""));
    CHECK(any_message_contains(messages, "s3.state: is not a readable forecast snapshot"));
    CHECK(any_message_contains(messages, "s4.state: was saved from model"));
    CHECK(any_message_contains(messages, "foreign.safetensors"));
    CHECK(any_message_contains(messages, model.file().fingerprint()));

    options.state_dir.clear();
    StreamForecaster fresh(model, *feed.ids, options);
    CHECK(first_difference(run(fresh, ticks.subspan(300), 300), got) == -1);
}

TEST_CASE("Forecaster: pool full under 'refuse' refuses new streams and says which and why",
          "[engine][forecast][pool]") {
    const auto& model = fixture_model().model;
    StreamIds ids(8);
    for (const char* name : {"alpha", "beta", "gamma"}) (void)ids.find_or_add(name);
    ForecasterOptions options;
    options.max_streams = 2;
    options.when_full = PoolFullPolicy::kRefuse;
    StreamForecaster forecaster(model, ids, options);
    std::vector<Tick> ticks;
    for (int i = 0; i < 5; ++i) {
        for (std::uint32_t s = 0; s < 3; ++s) ticks.push_back({s, (i + 1) * kSecond, 1.0f + i, {}});
    }
    const auto got = run(forecaster, ticks, 4);
    CHECK(got.size() == 10);
    CHECK(std::none_of(got.begin(), got.end(), [](const Recorded& r) { return r.stream == 2; }));
    CHECK(forecaster.stats().refused == 5);
    CHECK_FALSE(forecaster.is_live(2));
    const auto messages = forecaster.take_messages();
    REQUIRE(messages.size() == 1);  // one message per stream, every tick counted
    CHECK_THAT(messages[0], Contains("'gamma'") && Contains("all 2 stream slots") && Contains("refuse"));

    // Freeing slots by idle time lets the refused stream in.
    CHECK(forecaster.evict_idle_older_than(6 * kSecond) == 2);
    CHECK(forecaster.stats().evicted_dropped == 2);  // no state directory
    const std::vector<Tick> later = {{2, 7 * kSecond, 3.0f, {}}};
    CHECK(run(forecaster, later, 1).size() == 1);
    CHECK(forecaster.is_live(2));
    CHECK(forecaster.stats().streams_live == 1);
}

TEST_CASE("Forecaster: pool full under 'evict-idle' saves the least recent stream and resumes "
          "it bit for bit", "[engine][forecast][pool]") {
    const auto& model = fixture_model().model;
    const Feed feed = random_feed(9, 1500, 47);
    ForecasterOptions options;
    options.season = 3;
    options.chunk_streams = 2;
    StreamForecaster roomy(model, *feed.ids, options);
    const auto want = run(roomy, feed.ticks, 200);

    // Three slots for nine streams: evictions on nearly every new arrival, often while the
    // stream to evict still has ticks waiting in the same pass.
    TempDir dir("evict");
    options.max_streams = 3;
    options.when_full = PoolFullPolicy::kEvictIdle;
    options.state_dir = dir.path;
    StreamForecaster tight(model, *feed.ids, options);
    const auto got = run(tight, feed.ticks, 200);
    INFO(joined(tight.take_messages()));
    CHECK(first_difference(got, want) == -1);
    const ForecasterStats& stats = tight.stats();
    CHECK(stats.evicted > 100);
    CHECK(stats.evicted_dropped == 0);
    CHECK(stats.saved == stats.evicted);
    CHECK(stats.restored + 9 == stats.streams_started);
    CHECK(stats.streams_live == 3);
    CHECK(stats.refused == 0);

    // Without a state directory an evicted stream is dropped, counted, and starts over.
    options.state_dir.clear();
    StreamForecaster forgetful(model, *feed.ids, options);
    const auto forgot = run(forgetful, feed.ticks, 200);
    CHECK(forgetful.stats().evicted_dropped == forgetful.stats().evicted);
    CHECK(forgetful.stats().restored == 0);
    CHECK(first_difference(forgot, want) != -1);
}

TEST_CASE("Forecaster: snapshot file names escape the stream id", "[engine][forecast][snapshot]") {
    CHECK(StreamForecaster::state_file_name("AAPL") == "AAPL.state");
    CHECK(StreamForecaster::state_file_name("a/b c") == "a%2Fb%20c.state");
    CHECK(StreamForecaster::state_file_name("..") == "...state");
    CHECK(StreamForecaster::state_file_name("x%y") == "x%25y.state");
    CHECK(StreamForecaster::state_file_name("sensor-3_v1.2") == "sensor-3_v1.2.state");
    CHECK(parse_pool_full_policy("evict-idle") == PoolFullPolicy::kEvictIdle);
    CHECK(parse_pool_full_policy("refuse") == PoolFullPolicy::kRefuse);
    CHECK_FALSE(parse_pool_full_policy("lru").has_value());
}

namespace {

// The golden fixture's ticks and the reference's values (make_forecast_fixture.py's docstring).
struct GoldenFixture {
    statestream::test::FixtureFile io{kFixtures / "forecast_fixture_io.safetensors"};
    std::vector<double> season = io.doubles("season");
    std::vector<double> stream = io.doubles("stream");
    std::vector<double> hi = io.doubles("time_ns_hi");
    std::vector<double> lo = io.doubles("time_ns_lo");
    std::vector<double> value = io.doubles("value");
    std::vector<double> features = io.doubles("features");    // [N, 6]
    std::vector<double> outputs = io.doubles("outputs");      // [N, 3H]
    std::vector<double> sigma = io.doubles("sigma");          // [N]
    std::vector<double> anchors = io.doubles("anchors");      // [N, H]
    std::vector<double> quantiles = io.doubles("quantiles");  // [N, H, 3]
    std::vector<double> quantiles_no_adapt = io.doubles("quantiles_no_adapt");

    [[nodiscard]] std::size_t ticks() const { return stream.size(); }
    [[nodiscard]] Tick tick(std::size_t n) const {
        const auto time = static_cast<std::int64_t>(static_cast<std::uint64_t>(hi[n]) * (1ULL << 32) +
                                                    static_cast<std::uint64_t>(lo[n]));
        return {static_cast<std::uint32_t>(stream[n]), time, static_cast<float>(value[n]), {}};
    }
};

}  // namespace

TEST_CASE("Golden fixture: features, outputs, scale and anchors match the PyTorch reference",
          "[engine][forecast][fixture]") {
    const auto& model = fixture_model().model;
    const ForecastSpec& spec = model.file().description().forecast;
    const GoldenFixture fx;
    const std::size_t H = spec.horizon;
    REQUIRE(H == 24);
    REQUIRE(fx.ticks() == 92);
    REQUIRE(fx.outputs.size() == fx.ticks() * 3 * H);

    std::vector<TickFeatures> features(3, TickFeatures(spec));
    std::vector<models::StreamState> states(3, model.make_state());
    models::ModelWorkspace ws(model, 1);
    double worst_x = 0, worst_y = 0, worst_sigma = 0, worst_b = 0;
    std::size_t at_y = 0, at_b = 0;
    for (std::size_t n = 0; n < fx.ticks(); ++n) {
        const Tick tick = fx.tick(n);
        const auto season = static_cast<std::uint32_t>(fx.season[tick.stream]);
        std::array<float, 6> x{};
        features[tick.stream].step(tick.time_ns, tick.value, season, x);
        for (std::size_t i = 0; i < 6; ++i) worst_x = std::max(worst_x, std::abs(x[i] - fx.features[n * 6 + i]));
        std::vector<float> y(3 * H);
        model.step(states[tick.stream], ws, x, y);
        const std::span<const double> want_y(fx.outputs.data() + n * 3 * H, 3 * H);
        const double err_y = statestream::test::relative_error(y, want_y, 1.0);
        if (err_y > worst_y) worst_y = err_y, at_y = n;

        const TickFeatures& f = features[tick.stream];
        REQUIRE(f.has_last() == !std::isnan(fx.sigma[n]));
        if (!f.has_last()) continue;
        worst_sigma = std::max(worst_sigma, std::abs(f.scale() / fx.sigma[n] - 1.0));
        std::vector<double> b(H);
        f.anchors(season, b);
        for (std::size_t h = 0; h < H; ++h) {
            const double err = std::abs(b[h] - fx.anchors[n * H + h]) / fx.sigma[n];
            if (err > worst_b) worst_b = err, at_b = n;
        }
    }
    INFO("features: max abs error " << worst_x << "; outputs: max relative error " << worst_y
         << " at tick " << at_y << "; sigma': " << worst_sigma << "; anchors, in scales: "
         << worst_b << " at tick " << at_b);
    CHECK(worst_x <= 1e-6);      // both compute in double and round to float
    CHECK(worst_y <= 1e-4);      // float32 model against float64
    CHECK(worst_sigma <= 1e-12); // the same float32 state, the same double formula
    CHECK(worst_b <= 1e-6);
}

TEST_CASE("Golden fixture: the forecaster's quantiles match the reference, adapted and not",
          "[engine][forecast][fixture]") {
    const auto& model = fixture_model().model;
    const GoldenFixture fx;
    const std::size_t H = 24;
    StreamIds ids(4);
    for (const char* name : {"stream0", "stream1", "stream2"}) (void)ids.find_or_add(name);

    for (const bool adapt : {true, false}) {
        const std::vector<double>& want = adapt ? fx.quantiles : fx.quantiles_no_adapt;
        // One forecaster per stream: the season is one per forecaster, the fixture's differ.
        std::vector<std::vector<float>> got(fx.ticks());
        for (std::uint32_t s = 0; s < 3; ++s) {
            ForecasterOptions options;
            options.adapt = adapt;
            options.season = static_cast<std::uint32_t>(fx.season[s]);
            StreamForecaster forecaster(model, ids, options);
            std::vector<Tick> ticks;
            std::vector<std::size_t> index;
            for (std::size_t n = 0; n < fx.ticks(); ++n) {
                if (fx.tick(n).stream == s) ticks.push_back(fx.tick(n)), index.push_back(n);
            }
            std::size_t k = 0;
            forecaster.process(ticks, [&](const Forecast& f) {
                while (ticks[k].time_ns != f.time_ns || std::memcmp(&ticks[k].value, &f.value, 4) != 0) ++k;
                auto& q = got[index[k++]];
                for (std::size_t h = 0; h < H; ++h) q.insert(q.end(), {f.q10[h], f.q50[h], f.q90[h]});
            });
        }
        double worst = 0;
        std::size_t at = 0, forecasts = 0;
        for (std::size_t n = 0; n < fx.ticks(); ++n) {
            const bool expected = !std::isnan(want[n * H * 3]);
            INFO("tick " << n << (adapt ? " (adapted)" : " (no adaptation)"));
            REQUIRE(got[n].empty() == !expected);
            if (!expected) continue;
            ++forecasts;
            for (std::size_t i = 0; i < H * 3; ++i) {
                const double err = std::abs(got[n][i] - want[n * H * 3 + i]) / fx.sigma[n];
                if (err > worst) worst = err, at = n;
            }
        }
        INFO((adapt ? "adapted" : "no adaptation") << ": max error " << worst << " scales (sigma') at tick "
             << at << " over " << forecasts << " forecasts");
        CHECK(forecasts > 80);
        // Quantiles are float32: at the 0.1 % floor of sigma' their rounding alone is up to
        // 2^-24 * 1000 = 6e-5 scales (stream 2, level 10000); the model adds about 1e-6.
        CHECK(worst <= 1e-4);
    }
}
