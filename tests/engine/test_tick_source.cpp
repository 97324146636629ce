// Tick sources end to end: a file with good and bad lines of every kind, stdin through a pipe,
// and UDP through a real socket on loopback; counts, kept messages and stop().

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/io/tick_source.hpp"

using namespace statestream::engine::io;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

// A file in the temp directory, removed at the end of the test.
class TempFile {
public:
    explicit TempFile(const std::string& text)
        : path_(std::filesystem::temp_directory_path() /
                ("statestream-ticks-" + std::to_string(::getpid()) + "-" +
                 std::to_string(counter_++) + ".csv")) {
        std::ofstream out(path_, std::ios::binary);
        out << text;
    }
    ~TempFile() { std::filesystem::remove(path_); }
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

private:
    static inline int counter_ = 0;
    std::filesystem::path path_;
};

struct Collected {
    std::vector<Tick> ticks;
    std::vector<std::string> bad;  // report lines, in order
    TickCallbacks callbacks() {
        return {[this](const Tick& t) { ticks.push_back(t); },
                [this](const TickError&, std::string_view line) { bad.emplace_back(line); }};
    }
};

// Seconds with 1 and 12 fraction digits, integer ns, CRLF, a header, comments, a NaN gap, an
// out-of-order tick, an undeclared extra column and garbage; the last line has no newline.
const char* const kMixedFile =
    "# exported by the recorder\r\n"
    "stream_id,timestamp,value\r\n"
    "AAPL,1.5,100.25\r\n"
    "\r\n"
    "MSFT,1.123456789012,50\n"
    "AAPL,2000000000,101\n"
    "AAPL,1.9,99\n"                      // line 7: back in time
    "MSFT,2.0,nan\n"                     // a gap
    "AAPL,3.0,102,7\n"                   // line 9: an undeclared covariate
    "hello world\n"                      // line 10: garbage
    "AAPL,4.0,inf\n"                     // line 11: not a value
    "MSFT,3.0,51.5";                     // no newline at the end

}  // namespace

TEST_CASE("Tick file: good lines become ticks, bad lines are counted and named",
          "[engine][ticks][source]") {
    const TempFile file(kMixedFile);
    auto source = TickSource::open_file(file.path(), {});
    Collected got;
    const auto report = source.run(got.callbacks());

    REQUIRE(got.ticks.size() == 5);
    CHECK(got.ticks[0].time_ns == 1'500'000'000);
    CHECK(got.ticks[1].time_ns == 1'123'456'789);  // 12 digits, truncated to ns
    CHECK(got.ticks[2].time_ns == 2'000'000'000);
    CHECK(std::isnan(got.ticks[3].value));
    CHECK(got.ticks[4].value == 51.5f);
    CHECK(source.stream_ids().name(got.ticks[0].stream) == "AAPL");
    CHECK(source.stream_ids().name(got.ticks[1].stream) == "MSFT");

    CHECK(report.source == file.path().string());
    CHECK(report.lines == 12);
    CHECK(report.ticks == 5);
    CHECK(report.gaps == 1);
    CHECK(report.bad_lines == 4);
    CHECK(report.bad_by_kind[static_cast<int>(TickErrorKind::kOutOfOrder)] == 1);
    CHECK(report.bad_by_kind[static_cast<int>(TickErrorKind::kColumns)] == 2);
    CHECK(report.bad_by_kind[static_cast<int>(TickErrorKind::kValue)] == 1);
    CHECK(report.failure.empty());
    REQUIRE(report.first_errors.size() == 4);
    CHECK(got.bad == report.first_errors);
    const std::string at = file.path().string() + ":";
    CHECK_THAT(report.first_errors[0], StartsWith(at + "7: stream \"AAPL\": timestamp goes back"));
    CHECK_THAT(report.first_errors[1], StartsWith(at + "9: has 4 columns"));
    CHECK_THAT(report.first_errors[2], StartsWith(at + "10: has 1 columns"));
    CHECK_THAT(report.first_errors[3], StartsWith(at + "11: column 3 'value'"));
    INFO(report.summary());
    CHECK_THAT(report.summary(), Contains("12 lines, 5 ticks (1 gaps), 4 bad lines"));
    CHECK_THAT(report.summary(), Contains("2 columns"));
}

TEST_CASE("Tick file: declared covariates arrive in the tick", "[engine][ticks][source]") {
    const TempFile file("stream_id,timestamp,value,bid,ask\n"
                        "EURUSD,1.000000001,1.0850,1.0849,1.0851\n"
                        "EURUSD,1.000000002,1.0852,,1.0853\n"
                        "EURUSD,1.000000003,1.0852\n");
    auto source = TickSource::open_file(file.path(), {{"bid", "ask"}});
    Collected got;
    const auto report = source.run(got.callbacks());
    REQUIRE(got.ticks.size() == 2);
    CHECK(got.ticks[0].covariates[0] == 1.0849f);
    CHECK(got.ticks[0].covariates[1] == 1.0851f);
    CHECK(std::isnan(got.ticks[1].covariates[0]));
    CHECK(got.ticks[1].time_ns == 1'000'000'002);
    CHECK(report.bad_lines == 1);

    // The same file read without the declaration: the header is refused, and so is every line
    // with the extra columns; the three-column line is a good tick of that format.
    auto undeclared = TickSource::open_file(file.path(), {});
    const auto refused = undeclared.run({[](const Tick&) {}, {}});
    CHECK(refused.ticks == 1);
    CHECK(refused.bad_by_kind[static_cast<int>(TickErrorKind::kHeader)] == 1);
    CHECK(refused.bad_by_kind[static_cast<int>(TickErrorKind::kColumns)] == 2);
}

TEST_CASE("Tick file: lines cut by reads join up; overlong lines are bad, not fatal",
          "[engine][ticks][source]") {
    // ~190 KiB: several 64 KiB reads, so lines are cut at read boundaries.
    std::string text;
    const int n = 10'007;
    for (int i = 0; i < n; ++i) {
        text += "stream" + std::to_string(i % 13) + "," + std::to_string(i) + ".25," +
                std::to_string(i) + "\n";
        if (i == 5000) text += "x,1," + std::string(kMaxLineBytes, '9') + "\n";
    }
    const TempFile file(text);
    auto source = TickSource::open_file(file.path(), {});
    std::int64_t count = 0;
    bool all_exact = true;
    const auto report = source.run({[&](const Tick& t) {
                                         all_exact = all_exact && t.value == float(count) &&
                                                     t.time_ns == count * 1'000'000'000 + 250'000'000;
                                         ++count;
                                     },
                                     {}});
    CHECK(count == n);
    CHECK(all_exact);
    CHECK(report.lines == n + 1);
    CHECK(report.bad_lines == 1);
    REQUIRE(report.first_errors.size() == 1);
    CHECK_THAT(report.first_errors[0], Contains(":5002: line is longer than 4096 bytes"));
}

TEST_CASE("Tick file: only the first messages are kept, every bad line is counted",
          "[engine][ticks][source]") {
    std::string text;
    for (int i = 0; i < 100; ++i) text += "garbage " + std::to_string(i) + "\n";
    const TempFile file(text);
    auto source = TickSource::open_file(file.path(), {});
    const auto report = source.run({[](const Tick&) {}, {}});
    CHECK(report.bad_lines == 100);
    CHECK(report.first_errors.size() == kKeptErrorMessages);
    CHECK_THAT(report.first_errors.back(), Contains(":20:"));
}

TEST_CASE("Tick file: a missing file fails at open, naming the path", "[engine][ticks][source]") {
    CHECK_THROWS_WITH(TickSource::open_file("no/such/ticks.csv", {}),
                      StartsWith("no/such/ticks.csv: cannot open the tick file"));
    CHECK_THROWS_AS(TickSource::open_file("no/such/ticks.csv", {}), TickSourceError);
}

TEST_CASE("Tick stdin: reads fd 0 until the writer closes; stop() ends a silent one",
          "[engine][ticks][source]") {
    // Swap a pipe in as fd 0 for the test, and put the real stdin back after.
    const int saved_stdin = ::dup(STDIN_FILENO);
    REQUIRE(saved_stdin >= 0);
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    REQUIRE(::dup2(fds[0], STDIN_FILENO) == STDIN_FILENO);
    ::close(fds[0]);

    SECTION("to the end of input") {
        const std::string lines = "a,1.0,1\na,1.5,2\r\nb,7,3\n";
        std::size_t written = 0;  // checked after join: Catch2 v2 asserts on one thread only
        std::thread writer([&, fd = fds[1]] {
            for (const char c : lines) {  // byte by byte: every line is cut across reads
                written += ::write(fd, &c, 1) == 1 ? 1 : 0;
            }
            ::close(fd);
        });
        auto source = TickSource::open_stdin({});
        Collected got;
        const auto report = source.run(got.callbacks());
        writer.join();
        CHECK(written == lines.size());
        CHECK(report.source == "stdin");
        REQUIRE(got.ticks.size() == 3);
        CHECK(got.ticks[1].time_ns == 1'500'000'000);
        CHECK(got.ticks[2].time_ns == 7);
        CHECK(report.bad_lines == 0);
    }
    SECTION("stop() while the writer is silent") {
        auto source = TickSource::open_stdin({});
        std::atomic<int> ticks{0};
        TickSourceReport report;
        std::thread reader([&] {
            report =
                source.run({[&](const Tick&) { ticks.fetch_add(1, std::memory_order_relaxed); }, {}});
        });
        REQUIRE(::write(fds[1], "a,1,1\n", 6) == 6);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (ticks.load(std::memory_order_relaxed) == 0 &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        source.stop();  // the pipe's writer is still open: only stop() can end run()
        reader.join();
        CHECK(ticks.load(std::memory_order_relaxed) == 1);
        CHECK(report.ticks == 1);
        CHECK(report.failure.empty());
        ::close(fds[1]);
    }
    REQUIRE(::dup2(saved_stdin, STDIN_FILENO) == STDIN_FILENO);
    ::close(saved_stdin);
}

TEST_CASE("Tick source: stop() before run() makes run() return at once",
          "[engine][ticks][source]") {
    const TempFile file("a,1,1\n");
    auto source = TickSource::open_file(file.path(), {});
    source.stop();
    const auto report = source.run({[](const Tick&) {}, {}});
    CHECK(report.lines == 0);
    CHECK(report.failure.empty());
}

namespace {

// Sends the datagrams from a socket of `family` to the loopback address of that family and
// collects from `source` until `expected_ticks` arrived or ten seconds passed.
TickSourceReport send_and_collect(TickSource& source, int family,
                                  const std::vector<std::string>& datagrams,
                                  int expected_ticks, Collected& got) {
    const int fd = ::socket(family, SOCK_DGRAM, 0);
    REQUIRE(fd >= 0);  // before the reader starts: a failed REQUIRE must not leave it running
    std::atomic<int> ticks{0};
    TickSourceReport report;
    std::thread reader([&] {
        report = source.run({[&](const Tick& t) {
                                 got.ticks.push_back(t);
                                 ticks.fetch_add(1, std::memory_order_release);
                             },
                             [&](const TickError&, std::string_view line) {
                                 got.bad.emplace_back(line);
                             }});
    });
    sockaddr_storage to{};
    socklen_t to_length = 0;
    if (family == AF_INET) {
        auto& v4 = reinterpret_cast<sockaddr_in&>(to);
        v4.sin_family = AF_INET;
        v4.sin_port = htons(source.local_port());
        v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to_length = sizeof v4;
    } else {
        auto& v6 = reinterpret_cast<sockaddr_in6&>(to);
        v6.sin6_family = AF_INET6;
        v6.sin6_port = htons(source.local_port());
        v6.sin6_addr = in6addr_loopback;
        to_length = sizeof v6;
    }
    for (const auto& d : datagrams) {
        CHECK(::sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&to), to_length) ==
              static_cast<ssize_t>(d.size()));
    }
    ::close(fd);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (ticks.load(std::memory_order_acquire) < expected_ticks &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    // Loopback delivers in order, and the bad lines share datagrams with good ones.
    source.stop();
    reader.join();
    return report;
}

}  // namespace

TEST_CASE("Tick UDP: lines in datagrams on 127.0.0.1, bad lines name the sender",
          "[engine][ticks][source][udp]") {
    auto source = TickSource::open_udp("127.0.0.1:0", {{"volume"}});
    REQUIRE(source.local_port() != 0);
    CHECK(source.name() == "udp 127.0.0.1:" + std::to_string(source.local_port()));
    Collected got;
    const auto report = send_and_collect(source, AF_INET,
                                         {"stream_id,timestamp,value,volume\n"
                                          "a,1.0,10,1\nb,1.0,20,2\n",
                                          "a,2.0,11,3",  // no newline: the datagram ends the line
                                          "oops\r\na,3.0,,4\r\n"},
                                         4, got);
    REQUIRE(got.ticks.size() == 4);
    CHECK(got.ticks[1].covariates[0] == 2.0f);
    CHECK(got.ticks[2].time_ns == 2'000'000'000);
    CHECK(std::isnan(got.ticks[3].value));
    CHECK(report.datagrams == 3);
    CHECK(report.lines == 6);
    CHECK(report.bad_lines == 1);
    REQUIRE(got.bad.size() == 1);
    CHECK_THAT(got.bad[0], StartsWith(source.name() + " line 5 from 127.0.0.1:"));
    CHECK_THAT(got.bad[0], Contains("has 1 columns, expected 4"));
}

TEST_CASE("Tick UDP: IPv6 loopback", "[engine][ticks][source][udp]") {
    // Some containers have no ::1; probe with a bare socket so a real failure of ours still fails.
    const int probe = ::socket(AF_INET6, SOCK_DGRAM, 0);
    sockaddr_in6 loopback{};
    loopback.sin6_family = AF_INET6;
    loopback.sin6_addr = in6addr_loopback;
    const bool have_v6 = probe >= 0 && ::bind(probe, reinterpret_cast<sockaddr*>(&loopback),
                                              sizeof loopback) == 0;
    if (probe >= 0) ::close(probe);
    if (!have_v6) {
        WARN("no IPv6 loopback on this machine: skipped");
        return;
    }
    auto source = TickSource::open_udp("[::1]:0", {});
    CHECK_THAT(source.name(), StartsWith("udp [::1]:"));
    Collected got;
    const auto report = send_and_collect(source, AF_INET6, {"v6,5ns,1\nv6,6ns,2\n"}, 2, got);
    REQUIRE(got.ticks.size() == 2);
    CHECK(got.ticks[1].time_ns == 6);
    CHECK(report.bad_lines == 0);
}

TEST_CASE("Tick UDP: addresses that cannot work fail at open with a fix",
          "[engine][ticks][source][udp]") {
    CHECK_THROWS_WITH(TickSource::open_udp("9000", {}), Contains("expected host:port"));
    CHECK_THROWS_WITH(TickSource::open_udp("::1:9000", {}), Contains("[::1]:port"));
    CHECK_THROWS_WITH(TickSource::open_udp("127.0.0.1:65536", {}),
                      Contains("not a number from 0 to 65535"));
    CHECK_THROWS_WITH(TickSource::open_udp("[::1:9000", {}), Contains("no closing ']'"));
    auto taken = TickSource::open_udp("127.0.0.1:0", {});
    CHECK_THROWS_WITH(
        TickSource::open_udp("127.0.0.1:" + std::to_string(taken.local_port()), {}),
        Contains("Is another program listening on that port?"));
}
