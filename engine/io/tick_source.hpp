#pragma once
// Tick sources: a CSV file, stdin or a UDP socket, each read on its own non-real-time thread
// and parsed by the one tick grammar (docs/ticks.md). Good ticks go to a callback in input order
// (the caller pushes them onto the ring to the model thread); bad lines are counted, passed to
// an optional callback, and the first kKeptErrorMessages are kept for the report. Bad input
// never ends a source: only the end of the file or stdin, stop(), or a read error does.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "engine/io/tick_parser.hpp"

namespace statestream::engine::io {

// A line longer than this is a bad line (kLineTooLong) and the rest of it is skipped, so one
// missing newline cannot grow a buffer without bound. 100 covariate-sized numbers fit easily.
inline constexpr std::size_t kMaxLineBytes = 4096;
// Enough to see the pattern of what is wrong; the rest are counted only.
inline constexpr std::size_t kKeptErrorMessages = 20;

// A source that cannot start (missing file, address in use). The message starts with the
// source and says what to do.
class TickSourceError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct TickCallbacks {
    // Every good tick, gaps included, in input order. Required.
    std::function<void(const Tick&)> on_tick;
    // Every bad line, with its report line "source:line: problem". Optional.
    std::function<void(const TickError&, std::string_view report_line)> on_bad_line;
};

struct TickSourceReport {
    std::string source;              // "ticks.csv", "stdin", "udp 127.0.0.1:9000"
    std::uint64_t lines = 0;         // every line read: blank, comment and header lines too
    std::uint64_t ticks = 0;         // delivered to on_tick, gaps included
    std::uint64_t gaps = 0;          // ticks whose value is NaN
    std::uint64_t bad_lines = 0;
    std::uint64_t bad_by_kind[kTickErrorKinds] = {};  // indexed by TickErrorKind
    std::uint64_t datagrams = 0;     // UDP only
    std::vector<std::string> first_errors;  // the first kKeptErrorMessages report lines
    std::string failure;             // why reading stopped early (a read error); empty if not

    // One line: "ticks.csv: 1200 lines, 1180 ticks (3 gaps), 2 bad lines (first: ...)".
    [[nodiscard]] std::string summary() const;
};

class TickSource {
public:
    // Thread: setup. Opens `path`; throws TickSourceError when it cannot.
    [[nodiscard]] static TickSource open_file(const std::filesystem::path& path,
                                              const TickFormat& format);
    // Thread: setup. Reads fd 0, which stays open after the source is gone.
    [[nodiscard]] static TickSource open_stdin(const TickFormat& format);
    // Thread: setup. Binds a UDP socket to "host:port" ("127.0.0.1:9000", "[::1]:9000",
    // ":9000" or "*:9000" for every address; port 0 picks a free one, see local_port()).
    // Names resolve through getaddrinfo, IPv4 or IPv6. Throws TickSourceError when it cannot.
    [[nodiscard]] static TickSource open_udp(std::string_view host_port, const TickFormat& format);

    ~TickSource();
    TickSource(const TickSource&) = delete;
    TickSource& operator=(const TickSource&) = delete;

    // Thread: the source's own. Reads, parses and calls back until the end of the input (file,
    // stdin), stop() or a read error (then report().failure says so), and returns the report.
    // A UDP source has no end: it runs until stop(). Call it once.
    TickSourceReport run(const TickCallbacks& callbacks);

    // Thread: any, including a signal handler (it only write()s to a pipe). run() returns
    // within one read; called before run(), run() returns at once.
    void stop() noexcept;

    // Thread: any. The bound port of a UDP source (the free one port 0 picked); 0 otherwise.
    [[nodiscard]] std::uint16_t local_port() const noexcept { return local_port_; }
    // Thread: any. The source's name as reports and messages use it.
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    // Thread: any (see StreamIds). Names of the stream indices in ticks.
    [[nodiscard]] const StreamIds& stream_ids() const noexcept { return parser_.stream_ids(); }

private:
    enum class Kind : std::uint8_t { kStream, kDatagram };
    // Takes `fd` (closing it on failure when owns_fd) and makes the wake-up pipe.
    TickSource(Kind kind, int fd, bool owns_fd, std::uint16_t local_port, std::string name,
               const TickFormat& format);

    Kind kind_;
    int fd_;
    bool owns_fd_;
    int wake_read_fd_ = -1;   // stop() writes a byte to wake_write_fd_; run() polls the other end
    int wake_write_fd_ = -1;
    std::uint16_t local_port_ = 0;
    std::string name_;
    TickParser parser_;
};

}  // namespace statestream::engine::io
