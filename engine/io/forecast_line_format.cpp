#include "engine/io/forecast_line_format.hpp"

#include <charconv>
#include <cmath>

namespace statestream::engine::io {

namespace {

constexpr std::uint64_t kNanosPerSecond = 1'000'000'000;

// Shortest text that reads back to the same float (std::to_chars' guarantee); a value that is
// not finite becomes `missing`, since neither a tick CSV nor JSON has a spelling for it.
void append_float(float x, std::string_view missing, std::string& out) {
    if (!std::isfinite(x)) {
        out.append(missing);
        return;
    }
    char text[32];  // the longest shortest float, "-1.17549435e-38", is 15 characters
    const auto written = std::to_chars(text, text + sizeof text, x);
    out.append(text, written.ptr);
}

void append_csv_line(std::string_view stream_id, std::int64_t time_ns, float value,
                     std::span<const float> q10, std::span<const float> q50,
                     std::span<const float> q90, std::string& out) {
    out.append(stream_id);
    out.push_back(',');
    append_seconds(time_ns, out);
    out.push_back(',');
    append_float(value, "", out);  // empty: a gap, as the tick grammar writes one
    for (std::size_t h = 0; h < q50.size(); ++h) {
        for (const float q : {q10[h], q50[h], q90[h]}) {
            out.push_back(',');
            append_float(q, "", out);
        }
    }
}

void append_json_array(std::string_view key, std::span<const float> values, std::string& out) {
    out.append(",\"");
    out.append(key);
    out.append("\":[");
    for (std::size_t h = 0; h < values.size(); ++h) {
        if (h != 0) out.push_back(',');
        append_float(values[h], "null", out);
    }
    out.push_back(']');
}

void append_jsonl_line(std::string_view stream_id, std::int64_t time_ns, float value,
                       std::span<const float> q10, std::span<const float> q50,
                       std::span<const float> q90, std::string& out) {
    out.append("{\"stream\":\"");
    // Stream ids are printable ASCII without quotes (docs/ticks.md), but may hold a backslash.
    for (const char c : stream_id) {
        if (c == '\\' || c == '"') out.push_back('\\');
        out.push_back(c);
    }
    out.append("\",\"t\":\"");
    append_seconds(time_ns, out);
    out.append("\",\"value\":");
    append_float(value, "null", out);
    append_json_array("q10", q10, out);
    append_json_array("q50", q50, out);
    append_json_array("q90", q90, out);
    out.push_back('}');
}

}  // namespace

std::optional<ForecastLineFormat> parse_forecast_line_format(std::string_view name) noexcept {
    if (name == "csv") return ForecastLineFormat::kCsv;
    if (name == "jsonl") return ForecastLineFormat::kJsonl;
    return std::nullopt;
}

std::string forecast_header(ForecastLineFormat format, std::uint32_t horizon) {
    if (format != ForecastLineFormat::kCsv) return {};
    std::string header = "stream_id,timestamp,value";
    for (std::uint32_t h = 1; h <= horizon; ++h) {
        const std::string n = std::to_string(h);
        header += ",q10_h" + n + ",q50_h" + n + ",q90_h" + n;
    }
    return header;
}

void append_seconds(std::int64_t time_ns, std::string& out) {
    // Timestamps are >= 0 by the grammar; a negative one is still written exactly.
    std::uint64_t magnitude = static_cast<std::uint64_t>(time_ns);
    if (time_ns < 0) {
        out.push_back('-');
        magnitude = ~magnitude + 1;  // two's complement negation, defined for INT64_MIN too
    }
    char text[24];
    auto written = std::to_chars(text, text + sizeof text, magnitude / kNanosPerSecond);
    out.append(text, written.ptr);
    out.push_back('.');
    const std::uint64_t fraction = magnitude % kNanosPerSecond;
    written = std::to_chars(text, text + sizeof text, fraction);
    const auto digits = static_cast<std::size_t>(written.ptr - text);
    out.append(9 - digits, '0');
    out.append(text, written.ptr);
}

void append_forecast_line(ForecastLineFormat format, std::string_view stream_id,
                          std::int64_t time_ns, float value, std::span<const float> q10,
                          std::span<const float> q50, std::span<const float> q90, std::string& out) {
    if (format == ForecastLineFormat::kCsv) {
        append_csv_line(stream_id, time_ns, value, q10, q50, q90, out);
    } else {
        append_jsonl_line(stream_id, time_ns, value, q10, q50, q90, out);
    }
}

}  // namespace statestream::engine::io
