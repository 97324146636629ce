// The tick grammar line by line (docs/ticks.md): exact timestamps, gaps, covariates, headers,
// and every kind of bad line with a message that names the column.

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>

#include "engine/io/tick_parser.hpp"

using namespace statestream::engine::io;
using Catch::Matchers::Contains;

static_assert(std::is_trivially_copyable_v<Tick>, "ticks cross threads through a ring");

namespace {

Tick tick_of(TickParser& parser, std::string_view line, std::uint64_t number = 1) {
    auto parsed = parser.parse_line(line, number);
    if (const auto* error = std::get_if<TickError>(&parsed)) FAIL("bad line: " << error->message);
    REQUIRE(std::holds_alternative<Tick>(parsed));
    return std::get<Tick>(parsed);
}

TickError error_of(TickParser& parser, std::string_view line, std::uint64_t number = 1) {
    auto parsed = parser.parse_line(line, number);
    INFO("line: " << line);
    REQUIRE(std::holds_alternative<TickError>(parsed));
    return std::get<TickError>(parsed);
}

std::int64_t time_of(std::string_view timestamp) {
    TickParser parser({});
    return tick_of(parser, "s," + std::string(timestamp) + ",1").time_ns;
}

}  // namespace

TEST_CASE("Ticks: decimal seconds convert to exact nanoseconds", "[engine][ticks]") {
    CHECK(time_of("0.1") == 100'000'000);  // a binary double would give 100000000.000000005...
    CHECK(time_of("1.5") == 1'500'000'000);
    CHECK(time_of("1700000000.123456789") == 1'700'000'000'123'456'789);
    CHECK(time_of("0000012.000000001") == 12'000'000'001);
    CHECK(time_of("5s") == 5'000'000'000);
    CHECK(time_of("2.25s") == 2'250'000'000);
    // Beyond nine fraction digits: truncated toward zero, never rounded up.
    CHECK(time_of("1.123456789999") == 1'123'456'789);
    CHECK(time_of("3.000000000999999999999") == 3'000'000'000);
    // The largest timestamp int64 nanoseconds hold, both ways.
    CHECK(time_of("9223372036.854775807") == std::numeric_limits<std::int64_t>::max());
    CHECK(time_of("9223372036854775807") == std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("Ticks: integers are nanoseconds, with or without the ns suffix", "[engine][ticks]") {
    CHECK(time_of("0") == 0);
    CHECK(time_of("1700000000250000000") == 1'700'000'000'250'000'000);
    CHECK(time_of("250ns") == 250);
    CHECK(time_of("1700000000") == 1'700'000'000);  // 1.7 s: integer Unix seconds need "s" or '.'
}

TEST_CASE("Ticks: timestamps outside the grammar are bad lines naming column 2",
          "[engine][ticks]") {
    for (const char* bad : {"abc", "", "1e9", "-1", "+1", ".5", "5.", "1.5ns", "1..5", "0x10",
                            "12 34", "s", "ns", "1.5ms"}) {
        TickParser parser({});
        const auto error = error_of(parser, "s," + std::string(bad) + ",1", 7);
        INFO("timestamp " << bad << ": " << error.message);
        CHECK(error.kind == TickErrorKind::kTimestamp);
        CHECK(error.line_number == 7);
        CHECK_THAT(error.message, Contains("column 2 'timestamp'"));
        CHECK_THAT(error.message, Contains("integer nanoseconds"));
    }
    for (const char* huge : {"9223372036.854775808", "9223372037.0", "9223372036854775808",
                             "99999999999999999999999", "99999999999999999999999.5"}) {
        TickParser parser({});
        const auto error = error_of(parser, "s," + std::string(huge) + ",1");
        INFO("timestamp " << huge << ": " << error.message);
        CHECK(error.kind == TickErrorKind::kTimestamp);
        CHECK_THAT(error.message, Contains("beyond int64 nanoseconds"));
    }
}

TEST_CASE("Ticks: empty and nan values are gaps, kept as NaN ticks", "[engine][ticks][gaps]") {
    TickParser parser({});
    CHECK(tick_of(parser, "s,1,2.5").value == 2.5f);
    CHECK(tick_of(parser, "s,2,-3e-4").value == -3e-4f);
    for (const char* gap : {"", "nan", "NaN", "-nan", " NAN "}) {
        const float value = tick_of(parser, "s,3," + std::string(gap)).value;
        INFO("value '" << gap << "'");
        CHECK(std::isnan(value));
        CHECK_FALSE(std::signbit(value));  // one NaN, whatever the spelling
    }
}

TEST_CASE("Ticks: infinite, out-of-range and garbage values are bad lines", "[engine][ticks]") {
    TickParser parser({});
    const auto inf = error_of(parser, "s,1,inf");
    CHECK(inf.kind == TickErrorKind::kValue);
    CHECK_THAT(inf.message, Contains("column 3 'value'"));
    CHECK_THAT(inf.message, Contains("infinity"));
    CHECK(error_of(parser, "s,1,-Infinity").kind == TickErrorKind::kValue);
    CHECK_THAT(error_of(parser, "s,1,1e39").message, Contains("float cannot hold"));
    CHECK_THAT(error_of(parser, "s,1,1e-50").message, Contains("float cannot hold"));
    for (const char* bad : {"n/a", "1.5x", "+1", "0x10", "1,5e"}) {
        const auto error = error_of(parser, "s,1," + std::string(bad));
        INFO(bad << ": " << error.message);
        CHECK((error.kind == TickErrorKind::kValue || error.kind == TickErrorKind::kColumns));
    }
    CHECK_THAT(error_of(parser, "s,1,n/a").message, Contains("\"n/a\""));
}

TEST_CASE("Ticks: column counts, and extra columns only when declared", "[engine][ticks]") {
    TickParser plain({});
    const auto few = error_of(plain, "s,1");
    CHECK(few.kind == TickErrorKind::kColumns);
    CHECK_THAT(few.message, Contains("has 2 columns, expected 3"));
    const auto extra = error_of(plain, "s,1,2,3");
    CHECK(extra.kind == TickErrorKind::kColumns);
    CHECK_THAT(extra.message, Contains("declared as named covariates"));
    CHECK(error_of(plain, "s,1,2,").kind == TickErrorKind::kColumns);  // a trailing comma counts
    CHECK(error_of(plain, std::string(40, ',')).kind == TickErrorKind::kColumns);

    TickParser quotes({{"bid", "ask"}});
    const Tick tick = tick_of(quotes, " AAPL , 1.5 , 100.5 , 100.25 , 100.75 ");
    CHECK(quotes.stream_ids().name(tick.stream) == "AAPL");
    CHECK(tick.value == 100.5f);
    CHECK(tick.covariates[0] == 100.25f);
    CHECK(tick.covariates[1] == 100.75f);
    CHECK(std::isnan(tick_of(quotes, "AAPL,2.0,100,,101").covariates[0]));  // a covariate gap
    const auto bad_cov = error_of(quotes, "AAPL,3.0,100,99,inf");
    CHECK(bad_cov.kind == TickErrorKind::kCovariate);
    CHECK_THAT(bad_cov.message, Contains("column 5 'ask'"));
    CHECK_THAT(error_of(quotes, "AAPL,3.0,100").message,
               Contains("expected 5 (stream_id,timestamp,value,bid,ask)"));
}

TEST_CASE("Ticks: headers, comments, blank lines, CRLF and a byte-order mark",
          "[engine][ticks]") {
    TickParser parser({{"volume"}});
    auto skipped = [&](std::string_view line) {
        auto parsed = parser.parse_line(line, 1);
        REQUIRE(std::holds_alternative<SkippedLine>(parsed));
        return std::get<SkippedLine>(parsed);
    };
    CHECK(skipped("\xEF\xBB\xBF# exported 2024-05-01\r") == SkippedLine::kComment);
    CHECK(skipped("") == SkippedLine::kBlank);
    CHECK(skipped(" \t\r") == SkippedLine::kBlank);
    CHECK(skipped("stream_id, timestamp ,value,volume\r") == SkippedLine::kHeader);
    const Tick tick = tick_of(parser, "x,1.0,2,3\r");
    CHECK(tick.value == 2.0f);
    CHECK(tick.covariates[0] == 3.0f);
    CHECK(skipped("stream_id,timestamp,value,volume") == SkippedLine::kHeader);  // cat a.csv b.csv

    const auto renamed = error_of(parser, "stream_id,timestamp,value,qty", 9);
    CHECK(renamed.kind == TickErrorKind::kHeader);
    CHECK(renamed.line_number == 9);
    CHECK_THAT(renamed.message, Contains("(qty)"));
    CHECK_THAT(renamed.message, Contains("declares (volume)"));
    TickParser undeclared({});
    CHECK_THAT(error_of(undeclared, "stream_id,timestamp,value,qty").message,
               Contains("declares ()"));
}

TEST_CASE("Ticks: a first line that is neither data nor our header says how a header reads",
          "[engine][ticks]") {
    TickParser parser({});
    const auto first = error_of(parser, "symbol,time,price");
    CHECK(first.kind == TickErrorKind::kTimestamp);
    CHECK_THAT(first.message, Contains("if this line is a header, it must read "
                                       "stream_id,timestamp,value"));
    const auto later = error_of(parser, "symbol,time,price");
    CHECK_THAT(later.message, !Contains("header"));  // only the first line can be a header
}

TEST_CASE("Ticks: a stream must not go back in time; other streams are independent",
          "[engine][ticks][order]") {
    TickParser parser({});
    CHECK(tick_of(parser, "a,12.5,1").time_ns == 12'500'000'000);
    CHECK(tick_of(parser, "a,12.5,2").time_ns == 12'500'000'000);  // equal is fine
    CHECK(tick_of(parser, "b,1,3").stream == 1);                   // b is its own stream
    const auto back = error_of(parser, "a,12.0,4", 4);
    CHECK(back.kind == TickErrorKind::kOutOfOrder);
    CHECK(back.line_number == 4);
    CHECK_THAT(back.message, Contains("stream \"a\": timestamp goes back by 500000000 ns"));
    CHECK_THAT(back.message, Contains("12.000000000 s after 12.500000000 s"));
    // The dropped tick did not move the stream's clock: 12.4 is still behind 12.5.
    CHECK(error_of(parser, "a,12.4,5").kind == TickErrorKind::kOutOfOrder);
    CHECK(tick_of(parser, "a,12500000001,6").time_ns == 12'500'000'001);
}

TEST_CASE("Ticks: stream ids are dense indices in order of first appearance",
          "[engine][ticks][streams]") {
    TickParser parser({{}, 3});
    CHECK(tick_of(parser, "AAPL,1,1").stream == 0);
    CHECK(tick_of(parser, "MSFT,1,1").stream == 1);
    CHECK(tick_of(parser, "AAPL,2,1").stream == 0);
    // A line bad elsewhere does not take a slot.
    CHECK(error_of(parser, "GOOG,x,1").kind == TickErrorKind::kTimestamp);
    CHECK(parser.stream_ids().size() == 2);
    CHECK(tick_of(parser, "sensor/3.temp,1,1").stream == 2);
    const auto full = error_of(parser, "GOOG,1,1");
    CHECK(full.kind == TickErrorKind::kStreamId);
    CHECK_THAT(full.message, Contains("more than the 3 allowed"));
    CHECK(parser.stream_ids().name(1) == "MSFT");
    CHECK(parser.stream_ids().find("sensor/3.temp") == 2u);
    CHECK_FALSE(parser.stream_ids().find("GOOG").has_value());

    TickParser fresh({});
    CHECK_THAT(error_of(fresh, ",1,1").message, Contains("column 1 'stream_id' is empty"));
    CHECK_THAT(error_of(fresh, "a b,1,1").message, Contains("at position 2"));
    CHECK_THAT(error_of(fresh, "\"AAPL\",1,1").message, Contains("without spaces, quotes"));
    CHECK_THAT(error_of(fresh, "caf\xC3\xA9,1,1").message, Contains("\\xc3"));
    CHECK(tick_of(fresh, std::string(kMaxStreamIdBytes, 'x') + ",1,1").stream == 0);
    CHECK_THAT(error_of(fresh, std::string(kMaxStreamIdBytes + 1, 'x') + ",1,1").message,
               Contains("longer than the 64 allowed"));
}

TEST_CASE("Ticks: a bad covariate declaration is refused at setup", "[engine][ticks]") {
    using Catch::Matchers::Message;
    CHECK_THROWS_WITH(TickParser({{"a", "b", "c", "d", "e", "f", "g", "h", "i"}}),
                      Contains("9 covariates, at most 8"));
    CHECK_THROWS_WITH(TickParser({{"bid", "bid"}}), Contains("'bid' is declared twice"));
    CHECK_THROWS_WITH(TickParser({{"value"}}), Contains("a name of the fixed columns"));
    CHECK_THROWS_WITH(TickParser({{"two words"}}), Contains("covariate 1 name"));
    CHECK_THROWS_WITH(TickParser({{}, 0}), Contains("max_streams is 0"));
    CHECK_NOTHROW(TickParser({{"a", "b", "c", "d", "e", "f", "g", "h"}}));
}

TEST_CASE("Ticks: messages quote garbage safely and briefly", "[engine][ticks]") {
    TickParser parser({});
    const std::string garbage = "s,1," + std::string(1000, 'z') + "\x01";
    const auto error = error_of(parser, garbage);
    CHECK(error.message.size() < 300);
    CHECK_THAT(error.message, Contains("zzz...\""));
    CHECK_THAT(error_of(parser, std::string_view("s,1,\0", 5)).message, Contains("\\x00"));
}
