// libFuzzer target: arbitrary bytes through the tick parser, line by line. The first byte picks
// the format (its value mod 4 is the number of declared covariates, so the seeds start with a
// readable '0' to '3'); the rest is split at '\n'. Every line must end as a tick, a skipped line
// or a TickError, and what comes out must hold the grammar's promises (docs/ticks.md): exact
// timestamps (checked against a plain 128-bit reference), no stream going back in time, values
// finite or NaN, errors with a short message. A crash, a sanitizer report or a trap is a bug.

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "engine/io/tick_parser.hpp"

namespace {

using namespace statestream::engine::io;

__extension__ typedef __int128 Int128;  // the reference has room for any 39-digit product

// Small, so the fuzzer reaches the "too many streams" path.
constexpr std::size_t kFuzzMaxStreams = 4;

void require(bool ok, const char* what, std::string_view line) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_tick_parser: %s\n  line: \"%.*s\"\n", what,
                 static_cast<int>(line.size()), line.data());
    std::abort();
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// The timestamp rule written the slow, obvious way: accumulate every digit in 128 bits.
// Returns false when the text is not a timestamp or does not fit in int64 nanoseconds.
bool reference_time_ns(std::string_view text, std::int64_t& out) {
    bool seconds = text.find('.') != std::string_view::npos;
    if (text.size() >= 2 && text.substr(text.size() - 2) == "ns") {
        text.remove_suffix(2);
        seconds = false;
        if (text.find('.') != std::string_view::npos) return false;
    } else if (!text.empty() && text.back() == 's') {
        text.remove_suffix(1);
        seconds = true;
    }
    const std::size_t dot = text.find('.');
    const std::string_view whole = text.substr(0, dot);
    const std::string_view fraction = dot == std::string_view::npos ? "" : text.substr(dot + 1);
    if (whole.empty() || (dot != std::string_view::npos && fraction.empty())) return false;
    const Int128 limit = Int128(INT64_MAX);
    Int128 value = 0;
    for (const char c : whole) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + (c - '0');
        if (value > limit) return false;  // stays in range: 10 * (2^63) fits in 128 bits
    }
    if (seconds) {
        Int128 ns = 0;
        for (std::size_t i = 0; i < fraction.size(); ++i) {
            if (fraction[i] < '0' || fraction[i] > '9') return false;
            if (i < 9) ns = ns * 10 + (fraction[i] - '0');
        }
        for (std::size_t i = fraction.size(); i < 9; ++i) ns *= 10;
        value = value * 1'000'000'000 + ns;
    }
    if (value > limit) return false;
    out = static_cast<std::int64_t>(value);
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static const char* const kNames[] = {"bid", "ask", "volume"};
    TickFormat format;
    for (std::size_t i = 0; i < data[0] % 4u; ++i) format.covariates.emplace_back(kNames[i]);
    format.max_streams = kFuzzMaxStreams;
    TickParser parser(format);
    std::array<std::int64_t, kFuzzMaxStreams> last_ns;
    last_ns.fill(INT64_MIN);

    std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    for (std::uint64_t number = 1; !rest.empty(); ++number) {
        const std::size_t newline = rest.find('\n');
        const std::string_view line = rest.substr(0, newline);
        rest = newline == std::string_view::npos ? "" : rest.substr(newline + 1);

        const auto parsed = parser.parse_line(line, number);
        if (const auto* error = std::get_if<TickError>(&parsed)) {
            require(error->line_number == number, "error with the wrong line number", line);
            require(!error->message.empty(), "error without a message", line);
            require(error->message.size() < 2048, "error message unbounded", line);
            continue;
        }
        const auto* tick = std::get_if<Tick>(&parsed);
        if (tick == nullptr) continue;  // blank, comment or header
        require(tick->stream < parser.stream_ids().size(), "stream index out of the table", line);
        require(tick->time_ns >= 0, "negative timestamp", line);
        require(tick->time_ns >= last_ns[tick->stream], "stream went back in time", line);
        last_ns[tick->stream] = tick->time_ns;
        require(!std::isinf(tick->value), "infinite value", line);
        for (std::size_t i = 0; i < format.covariates.size(); ++i) {
            require(!std::isinf(tick->covariates[i]), "infinite covariate", line);
        }
        // The timestamp is the second comma-separated field, trimmed.
        std::string_view fields = line;
        fields.remove_prefix(fields.find(',') + 1);
        const std::string_view timestamp = trim(fields.substr(0, fields.find(',')));
        std::int64_t want = 0;
        require(reference_time_ns(timestamp, want), "accepted a timestamp the rule refuses", line);
        require(want == tick->time_ns, "timestamp differs from the 128-bit reference", line);
    }
    return 0;
}
