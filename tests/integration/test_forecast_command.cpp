// `statestream forecast` with the golden fixture's random-weight forecaster (its forecasts are
// meaningless; the command's contract is what is tested): the CSV and JSONL line shapes, bad
// lines reported by line number with exit 3 while the good ones are still forecast, a restart
// from --state-dir that continues exactly, UDP in and out on loopback, the stream pool full
// (refuse vs evict), and options the model cannot honour (exit 2).

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/run_process.hpp"

using Catch::Matchers::Contains;
using statestream::test::run_process;

namespace {

const std::string kExe = STATESTREAM_EXE;
const std::filesystem::path kFixtures = std::filesystem::path(STATESTREAM_DATA_DIR) / "fixtures";
const std::string kModel = (kFixtures / "forecast_fixture.safetensors").string();
constexpr std::size_t kModelHorizon = 24;  // the fixture's "forecast" metadata
constexpr std::uint32_t kModelMaxSeason = 64;

std::filesystem::path scratch_dir(const std::string& name) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("statestream-forecast-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

std::vector<std::string> fields_of(const std::string& line) {
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (;;) {
        const std::size_t comma = line.find(',', start);
        fields.push_back(line.substr(start, comma - start));
        if (comma == std::string::npos) return fields;
        start = comma + 1;
    }
}

// Tick lines of `streams` interleaved streams, tick k of each at k + 0.25 s; odd sizes on purpose.
std::vector<std::string> tick_lines(const std::vector<std::string>& streams, int ticks) {
    std::vector<std::string> lines;
    for (int k = 0; k < ticks; ++k) {
        for (std::size_t s = 0; s < streams.size(); ++s) {
            const double value = 10.0 * static_cast<double>(s + 1) + std::sin(0.3 * k + static_cast<double>(s)) +
                                 0.01 * k;
            lines.push_back(streams[s] + "," + std::to_string(1000 + k) + ".25," + std::to_string(value));
        }
    }
    return lines;
}

void write_lines(const std::filesystem::path& path, const std::vector<std::string>& lines,
                 const std::string& header = "stream_id,timestamp,value") {
    std::ofstream out(path);
    if (!header.empty()) out << header << "\n";
    for (const auto& line : lines) out << line << "\n";
}

std::vector<std::string> forecast_args(const std::filesystem::path& input, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {kExe, "forecast", "--input", input.string(), "--model", kModel};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
}

// q10 <= q50 <= q90 at every horizon of a CSV line's 3 * H quantile fields.
void check_ordered_quantiles(const std::vector<std::string>& fields) {
    for (std::size_t h = 0; 3 + 3 * h + 2 < fields.size(); ++h) {
        const double q10 = std::stod(fields[3 + 3 * h]);
        const double q50 = std::stod(fields[4 + 3 * h]);
        const double q90 = std::stod(fields[5 + 3 * h]);
        INFO("horizon " << h + 1 << ": " << q10 << " " << q50 << " " << q90);
        CHECK(q10 <= q50);
        CHECK(q50 <= q90);
    }
}

// A UDP socket on 127.0.0.1 with a free port, closed at scope end.
struct UdpSocket {
    int fd = -1;
    std::uint16_t port = 0;
    UdpSocket() {
        fd = ::socket(AF_INET, SOCK_DGRAM, 0);
        REQUIRE(fd >= 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        socklen_t length = sizeof address;
        REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
        port = ntohs(address.sin_port);
    }
    ~UdpSocket() { ::close(fd); }
    UdpSocket(const UdpSocket&) = delete;
    UdpSocket& operator=(const UdpSocket&) = delete;

    void send_to(std::uint16_t to_port, const std::string& payload) const {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        address.sin_port = htons(to_port);
        REQUIRE(::sendto(fd, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&address),
                         sizeof address) == static_cast<ssize_t>(payload.size()));
    }
    // One datagram, or empty after timeout_ms without one.
    [[nodiscard]] std::string receive(int timeout_ms) const {
        pollfd wait{fd, POLLIN, 0};
        if (::poll(&wait, 1, timeout_ms) <= 0) return {};
        std::string buffer(65536, '\0');
        const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), 0);
        buffer.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
        return buffer;
    }
};

// The port a `forecast --input udp://...:0` says it listens on, read from its stderr file.
std::uint16_t wait_for_listening_port(const std::filesystem::path& err_path) {
    const std::string marker = "listening on udp 127.0.0.1:";
    for (int waited_ms = 0; waited_ms < 10000; waited_ms += 20) {
        const std::string err = statestream::test::slurp(err_path);
        const std::size_t at = err.find(marker);
        if (at != std::string::npos && err.find('\n', at) != std::string::npos) {
            return static_cast<std::uint16_t>(std::stoul(err.substr(at + marker.size())));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    FAIL("forecast never said which port it listens on: " << statestream::test::slurp(err_path));
    return 0;
}

}  // namespace

TEST_CASE("forecast: CSV has the header and one line per tick with H ordered quantile triples; "
          "JSONL carries the same numbers", "[integration][forecast]") {
    const auto dir = scratch_dir("shape");
    const auto ticks = tick_lines({"AAPL", "sensor-3/temp"}, 37);
    write_lines(dir / "ticks.csv", ticks);

    const auto csv = run_process(forecast_args(dir / "ticks.csv"));
    INFO(csv.err);
    REQUIRE(csv.exit_code == 0);
    const auto lines = lines_of(csv.out);
    REQUIRE(lines.size() == 1 + ticks.size());  // every tick has a value, so every tick is forecast
    const auto header = fields_of(lines[0]);
    REQUIRE(header.size() == 3 + 3 * kModelHorizon);
    CHECK(lines[0].rfind("stream_id,timestamp,value,q10_h1,q50_h1,q90_h1,q10_h2,", 0) == 0);
    CHECK(header.back() == "q90_h24");
    for (std::size_t i = 1; i < lines.size(); ++i) {
        const auto fields = fields_of(lines[i]);
        REQUIRE(fields.size() == header.size());
        const auto input = fields_of(ticks[i - 1]);
        CHECK(fields[0] == input[0]);                   // input order kept
        CHECK(fields[1] == input[1] + "0000000");       // "1000.25" -> "1000.250000000"
        CHECK(std::stod(fields[2]) == Approx(std::stod(input[2])).epsilon(1e-6));
        check_ordered_quantiles(fields);
    }
    CHECK_THAT(csv.err, Contains("74 ticks of 2 streams -> 74 forecasts"));

    const auto jsonl = run_process(forecast_args(dir / "ticks.csv", {"--format", "jsonl", "--horizon", "5"}));
    INFO(jsonl.err);
    REQUIRE(jsonl.exit_code == 0);
    const auto json_lines = lines_of(jsonl.out);
    REQUIRE(json_lines.size() == ticks.size());  // no header
    for (std::size_t i = 0; i < json_lines.size(); ++i) {
        const auto line = nlohmann::json::parse(json_lines[i]);
        const auto csv_fields = fields_of(lines[i + 1]);
        CHECK(line["stream"] == csv_fields[0]);
        CHECK(line["t"] == csv_fields[1]);
        CHECK(line["value"].get<double>() == Approx(std::stod(csv_fields[2])));
        REQUIRE(line["q10"].size() == 5);
        REQUIRE(line["q50"].size() == 5);
        REQUIRE(line["q90"].size() == 5);
        for (std::size_t h = 0; h < 5; ++h) {  // the first 5 horizons are the CSV's, to float precision
            CHECK(line["q10"][h].get<float>() == std::stof(csv_fields[3 + 3 * h]));
            CHECK(line["q50"][h].get<float>() == std::stof(csv_fields[4 + 3 * h]));
            CHECK(line["q90"][h].get<float>() == std::stof(csv_fields[5 + 3 * h]));
        }
    }
    std::filesystem::remove_all(dir);
}

TEST_CASE("forecast: bad lines are reported by line number, skipped, and exit 3; a NaN is a gap and "
          "still forecast", "[integration][forecast]") {
    const auto dir = scratch_dir("bad");
    // Line numbers are the file's: the header is line 1.
    const std::vector<std::string> lines = {
        "a,1.0,10",           // 2
        "b,1.0,20",           // 3
        "a,2.0,10.5",         // 4
        "this is not a tick", // 5: columns
        "a,3.0,nan",          // 6: a gap, good
        "b,2.0,inf",          // 7: value
        "a,2.5,11",           // 8: out_of_order (a is at 3.0)
        "b,3.0,21,7",         // 9: columns, an undeclared covariate
        "a,4.0,11.5",         // 10
        "b,4.0,20.5",         // 11
    };
    write_lines(dir / "ticks.csv", lines);
    const auto r = run_process(forecast_args(dir / "ticks.csv"));
    INFO(r.err);
    CHECK(r.exit_code == 3);
    const std::string file = (dir / "ticks.csv").string();
    CHECK_THAT(r.err, Contains(file + ":5:") && Contains(file + ":7:") && Contains(file + ":8:") &&
                          Contains(file + ":9:"));
    CHECK_THAT(r.err, Contains("inf") && Contains("goes back") && Contains("declared"));
    CHECK_THAT(r.err, !Contains(file + ":6:"));
    CHECK_THAT(r.err, Contains("4 bad lines") && Contains("2 columns") && Contains("1 value") &&
                          Contains("1 out_of_order"));
    const auto out = lines_of(r.out);
    REQUIRE(out.size() == 1 + 6);  // the header, then ticks of lines 2, 3, 4, 6, 10, 11
    std::vector<std::string> times;
    for (std::size_t i = 1; i < out.size(); ++i) times.push_back(fields_of(out[i])[0] + "@" + fields_of(out[i])[1]);
    CHECK(times == std::vector<std::string>{"a@1.000000000", "b@1.000000000", "a@2.000000000", "a@3.000000000",
                                            "a@4.000000000", "b@4.000000000"});
    const auto gap = fields_of(out[4]);
    CHECK(gap[2].empty());  // the gap's value, written as the tick grammar writes a gap
    check_ordered_quantiles(gap);
    std::filesystem::remove_all(dir);
}

TEST_CASE("forecast: a run split in two with --state-dir prints what one uninterrupted run prints",
          "[integration][forecast]") {
    const auto dir = scratch_dir("state");
    const auto ticks = tick_lines({"x", "y", "z"}, 41);
    const std::size_t half = ticks.size() / 2 + 1;  // not on a round boundary: x and y lead z
    write_lines(dir / "all.csv", ticks);
    write_lines(dir / "first.csv", {ticks.begin(), ticks.begin() + static_cast<std::ptrdiff_t>(half)});
    write_lines(dir / "second.csv", {ticks.begin() + static_cast<std::ptrdiff_t>(half), ticks.end()});
    const std::vector<std::string> season = {"--season", "4"};

    const auto whole = run_process(forecast_args(dir / "all.csv", season));
    INFO(whole.err);
    REQUIRE(whole.exit_code == 0);
    const auto first = run_process(forecast_args(dir / "first.csv", {"--season", "4", "--state-dir", (dir / "state").string()}));
    INFO(first.err);
    REQUIRE(first.exit_code == 0);
    CHECK(std::filesystem::exists(dir / "state" / "x.state"));
    const auto second = run_process(forecast_args(dir / "second.csv", {"--season", "4", "--state-dir", (dir / "state").string()}));
    INFO(second.err);
    REQUIRE(second.exit_code == 0);
    CHECK_THAT(second.err, Contains("3 restored"));

    const auto all = lines_of(whole.out);
    const auto a = lines_of(first.out);
    const auto b = lines_of(second.out);
    REQUIRE(all.size() == 1 + ticks.size());
    REQUIRE(a.size() == 1 + half);
    REQUIRE(b.size() == 1 + ticks.size() - half);
    for (std::size_t i = 1; i < a.size(); ++i) CHECK(a[i] == all[i]);
    for (std::size_t i = 1; i < b.size(); ++i) {
        INFO("tick " << half + i);
        CHECK(b[i] == all[half + i]);  // bit for bit: the state was saved and restored exactly
    }

    // Without the state dir the second half starts cold, and its forecasts differ.
    const auto cold = run_process(forecast_args(dir / "second.csv", season));
    REQUIRE(cold.exit_code == 0);
    CHECK(lines_of(cold.out)[1] != all[half + 1]);
    std::filesystem::remove_all(dir);
}

TEST_CASE("forecast: ticks in over UDP, forecasts out over UDP, SIGTERM stops it cleanly",
          "[integration][forecast][udp]") {
    const auto dir = scratch_dir("udp");
    const UdpSocket receiver;
    auto started = statestream::test::start_process(
        {kExe, "forecast", "--input", "udp://127.0.0.1:0", "--model", kModel, "--output",
         "udp://127.0.0.1:" + std::to_string(receiver.port), "--udp-packing", "line", "--format", "jsonl",
         "--horizon", "3", "--state-dir", (dir / "state").string()});
    const std::uint16_t port = wait_for_listening_port(started.err_path);
    const UdpSocket sender;
    const auto ticks = tick_lines({"u", "v"}, 10);
    // Three lines per datagram, with a header in the first, as a gateway would send them; a bad
    // line (line 5 of the source) as the second datagram, which the ticks after it must survive.
    std::string payload = "stream_id,timestamp,value\n";
    for (std::size_t i = 0; i < ticks.size(); ++i) {
        payload += ticks[i] + "\n";
        if (i % 3 == 2 || i + 1 == ticks.size()) {
            sender.send_to(port, payload);
            payload.clear();
        }
        if (i == 2) sender.send_to(port, "u,5000.0,not-a-number\n");
    }

    std::vector<nlohmann::json> received;
    while (received.size() < ticks.size()) {
        const std::string datagram = receiver.receive(10000);
        if (datagram.empty()) break;
        const auto lines = lines_of(datagram);
        CHECK(lines.size() == 1);  // --udp-packing line
        for (const auto& line : lines) received.push_back(nlohmann::json::parse(line));
    }
    ::kill(started.pid, SIGTERM);
    const auto r = statestream::test::finish_process(started, 10000);
    INFO(r.err);
    REQUIRE(received.size() == ticks.size());
    for (std::size_t i = 0; i < received.size(); ++i) {
        CHECK(received[i]["stream"] == fields_of(ticks[i])[0]);
        CHECK(received[i]["q50"].size() == 3);
    }
    CHECK(r.exit_code == 3);  // the bad line
    CHECK_THAT(r.err, Contains("line 5 from 127.0.0.1:") && Contains("not-a-number"));
    CHECK_THAT(r.err, Contains("stopped by a signal"));
    CHECK(std::filesystem::exists(dir / "state" / "u.state"));  // saved on the way out

    // Packed (the default): whole lines, up to 1400 bytes a datagram, all of them arriving. At
    // 3 horizons a line is about 150 bytes, so several share a datagram.
    write_lines(dir / "ticks.csv", ticks);
    const auto packed = run_process(forecast_args(dir / "ticks.csv", {"--horizon", "3", "--output", "udp://127.0.0.1:" +
                                                                          std::to_string(receiver.port)}));
    INFO(packed.err);
    REQUIRE(packed.exit_code == 0);
    std::vector<std::string> csv_lines;
    std::size_t datagrams = 0;
    for (std::string datagram; !(datagram = receiver.receive(2000)).empty();) {
        ++datagrams;
        CHECK(datagram.size() <= 1400);
        CHECK(datagram.back() == '\n');  // no line is cut between datagrams
        for (const auto& line : lines_of(datagram)) csv_lines.push_back(line);
    }
    REQUIRE(csv_lines.size() == 1 + ticks.size());
    CHECK(csv_lines[0].rfind("stream_id,timestamp,value,q10_h1", 0) == 0);
    CHECK(datagrams < csv_lines.size());  // several lines share a datagram
    for (std::size_t i = 1; i < csv_lines.size(); ++i) CHECK(fields_of(csv_lines[i]).size() == 3 + 3 * 3);
    std::filesystem::remove_all(dir);
}

TEST_CASE("forecast: a full stream pool refuses new streams (exit 3) or evicts the least recently "
          "ticked one", "[integration][forecast]") {
    const auto dir = scratch_dir("pool");
    write_lines(dir / "ticks.csv", tick_lines({"p", "q", "r"}, 12));

    const auto refuse = run_process(forecast_args(dir / "ticks.csv", {"--max-streams", "2"}));
    INFO(refuse.err);
    CHECK(refuse.exit_code == 3);
    const auto refused_lines = lines_of(refuse.out);
    CHECK(refused_lines.size() == 1 + 24);  // p and q only
    for (std::size_t i = 1; i < refused_lines.size(); ++i) CHECK(fields_of(refused_lines[i])[0] != "r");
    CHECK_THAT(refuse.err, Contains("12 refused"));

    const auto evict = run_process(forecast_args(dir / "ticks.csv", {"--max-streams", "2", "--evict", "idle",
                                                                     "--state-dir", (dir / "state").string()}));
    INFO(evict.err);
    CHECK(evict.exit_code == 0);
    CHECK(lines_of(evict.out).size() == 1 + 36);  // every tick of all three
    CHECK_THAT(evict.err, Contains("0 refused"));
    CHECK_THAT(evict.err, !Contains(" 0 evicted"));
    CHECK(std::filesystem::exists(dir / "state" / "r.state"));

    // Idle in tick time: q stops at 3 s; with a 2 s limit it is evicted once the others pass 5 s.
    std::vector<std::string> lines;
    for (int k = 0; k < 12; ++k) {
        lines.push_back("p," + std::to_string(k) + ".0," + std::to_string(1.0 + 0.1 * k));
        if (k <= 3) lines.push_back("q," + std::to_string(k) + ".0," + std::to_string(2.0 - 0.1 * k));
    }
    write_lines(dir / "idle.csv", lines);
    const auto idle = run_process(forecast_args(dir / "idle.csv", {"--idle-seconds", "2"}));
    INFO(idle.err);
    CHECK(idle.exit_code == 0);
    CHECK_THAT(idle.err, Contains("1 streams live, 1 evicted (1 of them lost"));
    std::filesystem::remove_all(dir);
}

TEST_CASE("forecast: options the model cannot honour, and models that are not forecasters, exit 2 "
          "saying what to give", "[integration][forecast]") {
    const auto dir = scratch_dir("options");
    write_lines(dir / "ticks.csv", tick_lines({"a"}, 5));
    const auto horizon = run_process(forecast_args(dir / "ticks.csv", {"--horizon", "25"}));
    CHECK(horizon.exit_code == 2);
    CHECK_THAT(horizon.err, Contains("--horizon 25") && Contains("1..24"));
    const auto season = run_process(forecast_args(dir / "ticks.csv", {"--season", std::to_string(kModelMaxSeason + 1)}));
    CHECK(season.exit_code == 2);
    CHECK_THAT(season.err, Contains("--season 65") && Contains("max_season 64"));
    const auto one = run_process(forecast_args(dir / "ticks.csv", {"--season", "1"}));
    CHECK(one.exit_code == 2);
    const auto wrong = run_process({kExe, "forecast", "--input", (dir / "ticks.csv").string(), "--model",
                                    (kFixtures / "transcriber_fixture.safetensors").string()});
    CHECK(wrong.exit_code == 2);
    CHECK_THAT(wrong.err, Contains("not a forecasting model"));
    std::ofstream(dir / "broken.safetensors") << "not a model";
    const auto broken = run_process({kExe, "forecast", "--input", (dir / "ticks.csv").string(), "--model",
                                     (dir / "broken.safetensors").string()});
    CHECK(broken.exit_code == 2);
    CHECK_THAT(broken.err, Contains("broken.safetensors"));
    const auto missing = run_process(forecast_args(dir / "missing.csv"));
    CHECK(missing.exit_code == 2);
    CHECK_THAT(missing.err, Contains("missing.csv"));
    // A bad option leaves an existing output file alone.
    std::ofstream(dir / "keep.csv") << "precious\n";
    const auto kept = run_process(forecast_args(dir / "ticks.csv", {"--horizon", "25", "--output", (dir / "keep.csv").string()}));
    CHECK(kept.exit_code == 2);
    CHECK(statestream::test::slurp(dir / "keep.csv") == "precious\n");

    const auto help = run_process({kExe, "forecast", "--help"});
    CHECK(help.exit_code == 0);
    CHECK_THAT(help.out, Contains("--input") && Contains("--horizon") && Contains("--season") &&
                             Contains("--state-dir") && Contains("--max-streams") && Contains("--evict") &&
                             Contains("--no-adapt") && Contains("--plot") && Contains("udp://"));
    std::filesystem::remove_all(dir);
}
