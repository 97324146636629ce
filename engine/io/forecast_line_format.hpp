#pragma once
// The text forms of a tick's quantile forecast, one line per tick, as `statestream forecast`
// writes them (docs/forecast.md, "Use") and its benchmark times them:
//
//   CSV    stream_id,timestamp,value,q10_h1,q50_h1,q90_h1,...,q10_hH,q50_hH,q90_hH
//   JSONL  {"stream":"AAPL","t":"1714560000.125000000","value":189.5,"q10":[..],"q50":[..],"q90":[..]}
//
// The timestamp is seconds with exactly 9 decimals, the tick's int64 nanoseconds written out
// without floating point, so it reads back to the same nanosecond (a `.` means seconds in the
// tick grammar, docs/ticks.md). In JSON it is a string, because a double holds only about 16
// digits and Unix time in nanoseconds has 19. Numbers are the shortest text that reads back to
// the same float. A gap's value is an empty CSV field (the tick grammar's gap) or JSON null.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace statestream::engine::io {

enum class ForecastLineFormat : std::uint8_t { kCsv, kJsonl };

// "csv", "jsonl"; nothing for any other name.
[[nodiscard]] std::optional<ForecastLineFormat> parse_forecast_line_format(std::string_view name) noexcept;

// Thread: any. The CSV header line for horizons 1..horizon (no '\n'); empty for JSONL, which
// has none.
[[nodiscard]] std::string forecast_header(ForecastLineFormat format, std::uint32_t horizon);

// Thread: any. Appends one forecast line (no '\n') to `out`. q10, q50 and q90 hold one value per
// horizon, equally many. Allocates only when `out` must grow: reuse one string, cleared per line.
void append_forecast_line(ForecastLineFormat format, std::string_view stream_id,
                          std::int64_t time_ns, float value, std::span<const float> q10,
                          std::span<const float> q50, std::span<const float> q90, std::string& out);

// Thread: any. Appends `time_ns` as seconds with 9 decimals ("1714560000.125000000").
void append_seconds(std::int64_t time_ns, std::string& out);

}  // namespace statestream::engine::io
