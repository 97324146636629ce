#include "engine/io/tick_parser.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <system_error>

namespace statestream::engine::io {

namespace {

constexpr std::size_t kFixedColumns = 3;  // stream_id, timestamp, value
constexpr std::size_t kMaxColumns = kFixedColumns + kMaxCovariates;
constexpr std::int64_t kNsPerSecond = 1'000'000'000;
constexpr std::size_t kFractionDigits = 9;  // nanoseconds; further digits are truncated
// INT64_MAX ns = 9223372036.854775807 s: the largest whole second that still fits.
constexpr std::uint64_t kMaxWholeSeconds =
    static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() / kNsPerSecond);
constexpr std::string_view kFixedColumnNames[kFixedColumns] = {"stream_id", "timestamp", "value"};
// Field text quoted in a message is cut here: enough to recognise it, and a line of garbage
// does not become a message of garbage.
constexpr std::size_t kQuotedBytes = 40;
constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";  // spreadsheets start CSVs with it

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool all_digits(std::string_view s) noexcept {
    for (const char c : s) {
        if (c < '0' || c > '9') return false;
    }
    return !s.empty();
}

// Printable ASCII except space, '"' and ',': a stream id or covariate name survives a CSV
// round trip, a shell and a JSON string without quoting.
bool is_name_char(char c) noexcept { return c > ' ' && c <= '~' && c != '"' && c != ','; }

// "text" with control and non-ASCII bytes as \xNN, cut after kQuotedBytes.
std::string quoted(std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size() && i < kQuotedBytes; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out += static_cast<char>(c);
        } else {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 0xf];
        }
    }
    if (s.size() > kQuotedBytes) out += "...";
    return out + "\"";
}

// 12500000000 -> "12.500000000 s": exact, in the unit the file most often uses.
std::string seconds_text(std::int64_t ns) {
    const bool negative = ns < 0;
    const auto magnitude = negative ? 0 - static_cast<std::uint64_t>(ns)
                                    : static_cast<std::uint64_t>(ns);
    const auto whole = magnitude / kNsPerSecond;
    const auto fraction = std::to_string(magnitude % kNsPerSecond);
    std::string out = negative ? "-" : "";
    out += std::to_string(whole);
    out += '.';
    out.append(kFractionDigits - fraction.size(), '0');
    out += fraction;
    return out + " s";
}

// "column 2 'timestamp'": how every message names the column it is about.
std::string column_text(std::size_t index, std::string_view name) {
    return "column " + std::to_string(index + 1) + " '" + std::string(name) + "'";
}

std::string expected_columns(const TickFormat& format) {
    std::string names = "stream_id,timestamp,value";
    for (const auto& c : format.covariates) names += "," + c;
    return names;
}

// Why `name` cannot name a stream or a covariate, or empty when it can.
std::string name_problem(std::string_view name) {
    if (name.empty()) return "is empty";
    if (name.size() > kMaxStreamIdBytes) {
        return "is " + std::to_string(name.size()) + " bytes long, longer than the " +
               std::to_string(kMaxStreamIdBytes) + " allowed";
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (!is_name_char(name[i])) {
            return quoted(name) + " has the byte " + quoted(name.substr(i, 1)) + " at position " +
                   std::to_string(i + 1) +
                   "; names are printable ASCII without spaces, quotes or commas";
        }
    }
    return {};
}

enum class ParseStatus : std::uint8_t { kOk, kInvalid, kOverflow };

// Decimal seconds, "D+.D+" or "D+": whole seconds times 1e9 plus the first nine fraction
// digits as an integer, so 0.1 is exactly 100000000 ns (no binary fraction in between).
ParseStatus parse_seconds(std::string_view text, std::int64_t& out_ns) noexcept {
    const std::size_t dot = text.find('.');
    const std::string_view whole_text = text.substr(0, dot);
    const std::string_view fraction_text =
        dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
    if (!all_digits(whole_text)) return ParseStatus::kInvalid;
    if (dot != std::string_view::npos && !all_digits(fraction_text)) return ParseStatus::kInvalid;
    std::uint64_t whole = 0;
    const auto [end, ec] =
        std::from_chars(whole_text.data(), whole_text.data() + whole_text.size(), whole);
    if (ec == std::errc::result_out_of_range || whole > kMaxWholeSeconds) {
        return ParseStatus::kOverflow;
    }
    std::int64_t fraction_ns = 0;
    for (std::size_t i = 0; i < kFractionDigits; ++i) {
        fraction_ns = fraction_ns * 10 + (i < fraction_text.size() ? fraction_text[i] - '0' : 0);
    }
    const auto whole_ns = static_cast<std::int64_t>(whole) * kNsPerSecond;  // cannot overflow
    if (whole_ns > std::numeric_limits<std::int64_t>::max() - fraction_ns) {
        return ParseStatus::kOverflow;
    }
    out_ns = whole_ns + fraction_ns;
    return ParseStatus::kOk;
}

ParseStatus parse_nanoseconds(std::string_view text, std::int64_t& out_ns) noexcept {
    if (!all_digits(text)) return ParseStatus::kInvalid;
    std::uint64_t ns = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ns);
    if (ec == std::errc::result_out_of_range ||
        ns > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return ParseStatus::kOverflow;
    }
    out_ns = static_cast<std::int64_t>(ns);
    return ParseStatus::kOk;
}

// The rule (docs/ticks.md, "Timestamps"): a unit suffix decides; without one, a '.' means
// seconds and digits alone mean nanoseconds.
ParseStatus parse_timestamp(std::string_view text, std::int64_t& out_ns) noexcept {
    if (text.ends_with("ns")) {
        return parse_nanoseconds(text.substr(0, text.size() - 2), out_ns);
    }
    if (text.ends_with('s')) return parse_seconds(text.substr(0, text.size() - 1), out_ns);
    if (text.find('.') != std::string_view::npos) return parse_seconds(text, out_ns);
    return parse_nanoseconds(text, out_ns);
}

enum class ValueStatus : std::uint8_t { kOk, kInvalid, kOutOfRange, kInfinite };

// A finite float, or NaN for a gap (empty, or nan in any case).
ValueStatus parse_value(std::string_view text, float& out) noexcept {
    if (text.empty()) {
        out = std::numeric_limits<float>::quiet_NaN();
        return ValueStatus::kOk;
    }
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (ec == std::errc::result_out_of_range) return ValueStatus::kOutOfRange;
    if (ec != std::errc{} || end != text.data() + text.size()) return ValueStatus::kInvalid;
    if (std::isinf(out)) return ValueStatus::kInfinite;
    // One NaN, whatever the spelling (-nan, nan(0x1)): downstream compares bits in snapshots.
    if (std::isnan(out)) out = std::numeric_limits<float>::quiet_NaN();
    return ValueStatus::kOk;
}

std::string value_problem(ValueStatus status, std::string_view text) {
    switch (status) {
    case ValueStatus::kInvalid:
        return "is " + quoted(text) + ", expected a decimal number (-1.25, 3e-4), or empty or "
               "nan for a gap";
    case ValueStatus::kOutOfRange:
        return "is " + quoted(text) + ", which a float cannot hold (magnitude above 3.4e38 or "
               "below 1.4e-45); rescale the column";
    case ValueStatus::kInfinite:
        return "is " + quoted(text) + ", an infinity; only finite numbers are values (write "
               "empty or nan for a gap)";
    case ValueStatus::kOk:
        break;
    }
    return {};
}

TickError make_error(std::uint64_t line_number, TickErrorKind kind, std::string message) {
    return TickError{line_number, kind, std::move(message)};
}

}  // namespace

std::string_view to_string(TickErrorKind kind) noexcept {
    switch (kind) {
    case TickErrorKind::kColumns: return "columns";
    case TickErrorKind::kStreamId: return "stream_id";
    case TickErrorKind::kTimestamp: return "timestamp";
    case TickErrorKind::kValue: return "value";
    case TickErrorKind::kCovariate: return "covariate";
    case TickErrorKind::kOutOfOrder: return "out_of_order";
    case TickErrorKind::kHeader: return "header";
    case TickErrorKind::kLineTooLong: return "line_too_long";
    }
    return "unknown";
}

StreamIds::StreamIds(std::size_t max_streams)
    : max_streams_(max_streams), names_(std::make_unique<std::string[]>(max_streams)) {
    if (max_streams == 0 || max_streams > std::numeric_limits<std::uint32_t>::max()) {
        throw std::invalid_argument("StreamIds: max_streams is " + std::to_string(max_streams) +
                                    ", expected 1 to 2^32 - 1");
    }
    index_.reserve(max_streams);
}

std::optional<std::uint32_t> StreamIds::find(std::string_view id) const noexcept {
    const auto it = index_.find(id);
    if (it == index_.end()) return std::nullopt;
    return it->second;
}

std::optional<std::uint32_t> StreamIds::find_or_add(std::string_view id) {
    if (const auto found = find(id)) return found;
    const std::size_t n = count_.load(std::memory_order_relaxed);  // only this thread writes it
    if (n == max_streams_) return std::nullopt;
    names_[n] = std::string(id);
    index_.emplace(names_[n], static_cast<std::uint32_t>(n));
    count_.store(n + 1, std::memory_order_release);  // publish names_[n] to readers of name()
    return static_cast<std::uint32_t>(n);
}

TickParser::TickParser(TickFormat format)
    : format_(std::move(format)), stream_ids_(format_.max_streams),
      last_time_ns_(format_.max_streams, std::numeric_limits<std::int64_t>::min()) {
    const auto& names = format_.covariates;
    if (names.size() > kMaxCovariates) {
        throw std::invalid_argument("tick format declares " + std::to_string(names.size()) +
                                    " covariates, at most " + std::to_string(kMaxCovariates) +
                                    " are allowed (kMaxCovariates in engine/io/tick_parser.hpp)");
    }
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (const auto problem = name_problem(names[i]); !problem.empty()) {
            throw std::invalid_argument("tick format: covariate " + std::to_string(i + 1) +
                                        " name " + problem);
        }
        for (const auto fixed : kFixedColumnNames) {
            if (names[i] == fixed) {
                throw std::invalid_argument("tick format: covariate " + std::to_string(i + 1) +
                                            " is named '" + names[i] +
                                            "', a name of the fixed columns; rename it");
            }
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (names[i] == names[j]) {
                throw std::invalid_argument("tick format: covariate '" + names[i] +
                                            "' is declared twice (columns " +
                                            std::to_string(j + 4) + " and " +
                                            std::to_string(i + 4) + ")");
            }
        }
    }
}

ParsedLine TickParser::parse_line(std::string_view line, std::uint64_t line_number) {
    if (line.ends_with('\r')) line.remove_suffix(1);  // CRLF files
    if (!seen_content_ && line.starts_with(kByteOrderMark)) {
        line.remove_prefix(kByteOrderMark.size());
    }
    line = trim(line);
    if (line.empty()) return SkippedLine::kBlank;
    if (line.front() == '#') return SkippedLine::kComment;
    const bool first_content = !seen_content_;
    seen_content_ = true;

    std::array<std::string_view, kMaxColumns> fields;
    std::size_t n_fields = 0;
    for (std::size_t start = 0;; ++n_fields) {
        const std::size_t comma = line.find(',', start);
        if (n_fields < kMaxColumns) fields[n_fields] = trim(line.substr(start, comma - start));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    ++n_fields;
    const std::size_t n_covariates = format_.covariates.size();
    const std::size_t n_expected = kFixedColumns + n_covariates;

    // A header: "timestamp" is never a timestamp, so this cannot be mistaken for a data line.
    if (n_fields >= kFixedColumns && fields[0] == kFixedColumnNames[0] &&
        fields[1] == kFixedColumnNames[1] && fields[2] == kFixedColumnNames[2]) {
        bool same = n_fields == n_expected;
        for (std::size_t i = kFixedColumns; same && i < n_fields; ++i) {
            same = fields[i] == format_.covariates[i - kFixedColumns];
        }
        if (same) return SkippedLine::kHeader;
        std::string named;
        for (std::size_t i = kFixedColumns; i < n_fields && i < kMaxColumns; ++i) {
            if (!named.empty()) named += ',';
            named += fields[i];
        }
        if (n_fields > kMaxColumns) named += ",...";
        std::string declared;
        for (const auto& c : format_.covariates) {
            if (!declared.empty()) declared += ',';
            declared += c;
        }
        return make_error(line_number, TickErrorKind::kHeader,
                          "the header names the covariates (" + named +
                              "), but the tick format declares (" + declared +
                              "); declare the same covariates in the same order, or fix the "
                              "header to read " + expected_columns(format_));
    }

    if (n_fields != n_expected) {
        std::string message = "has " + std::to_string(n_fields) + " columns, expected " +
                              std::to_string(n_expected) + " (" + expected_columns(format_) + ")";
        if (n_fields > n_expected) {
            message += "; further columns are allowed only when declared as named covariates";
        }
        return make_error(line_number, TickErrorKind::kColumns, std::move(message));
    }

    const std::string_view id = fields[0];
    if (const auto problem = name_problem(id); !problem.empty()) {
        return make_error(line_number, TickErrorKind::kStreamId,
                          column_text(0, kFixedColumnNames[0]) + " " + problem);
    }

    Tick tick;
    if (const auto status = parse_timestamp(fields[1], tick.time_ns);
        status != ParseStatus::kOk) {
        std::string message = column_text(1, kFixedColumnNames[1]) + " is " + quoted(fields[1]);
        if (status == ParseStatus::kOverflow) {
            message += ", beyond int64 nanoseconds (at most 9223372036.854775807 s, year 2262)";
        } else {
            message += ", expected decimal seconds with a '.' (1700000000.25), integer "
                       "nanoseconds (1700000000250000000), or either with a unit suffix "
                       "(1700000000s, 250ns)";
            if (first_content) {
                message += "; if this line is a header, it must read " + expected_columns(format_);
            }
        }
        return make_error(line_number, TickErrorKind::kTimestamp, std::move(message));
    }

    if (const auto status = parse_value(fields[2], tick.value); status != ValueStatus::kOk) {
        return make_error(line_number, TickErrorKind::kValue,
                          column_text(2, kFixedColumnNames[2]) + " " +
                              value_problem(status, fields[2]));
    }
    for (std::size_t i = 0; i < n_covariates; ++i) {
        const std::string_view text = fields[kFixedColumns + i];
        if (const auto status = parse_value(text, tick.covariates[i]); status != ValueStatus::kOk) {
            return make_error(line_number, TickErrorKind::kCovariate,
                              column_text(kFixedColumns + i, format_.covariates[i]) + " " +
                                  value_problem(status, text));
        }
    }

    // The id joins the table only now, so a line bad elsewhere cannot use up a stream slot.
    const auto stream = stream_ids_.find_or_add(id);
    if (!stream) {
        return make_error(line_number, TickErrorKind::kStreamId,
                          column_text(0, kFixedColumnNames[0]) + " " + quoted(id) +
                              " would be stream " + std::to_string(stream_ids_.size() + 1) +
                              ", more than the " + std::to_string(stream_ids_.max_streams()) +
                              " allowed; raise TickFormat::max_streams if the feed is right");
    }
    tick.stream = *stream;
    std::int64_t& last_ns = last_time_ns_[*stream];
    if (tick.time_ns < last_ns) {
        return make_error(line_number, TickErrorKind::kOutOfOrder,
                          "stream " + quoted(id) + ": timestamp goes back by " +
                              std::to_string(last_ns - tick.time_ns) + " ns (" +
                              seconds_text(tick.time_ns) + " after " + seconds_text(last_ns) +
                              "); ticks of one stream must not go back in time (equal "
                              "timestamps are fine), so this tick is dropped");
    }
    last_ns = tick.time_ns;
    return tick;
}

}  // namespace statestream::engine::io
