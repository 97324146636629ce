#include "engine/io/tick_source.hpp"

#include "engine/io/host_port.hpp"

#include <array>
#include <cerrno>
#include <cmath>
#include <memory>
#include <system_error>
#include <variant>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace statestream::engine::io {

namespace {

// One read() of a file or pipe: large enough that syscalls cost nothing next to parsing.
constexpr std::size_t kReadBytes = 64 * 1024;
// The largest UDP payload (65535 minus the 8-byte UDP header), so no datagram is ever cut.
constexpr std::size_t kDatagramBytes = 65527;
// Ticks arrive in bursts (an exchange's open, a sensor array's sync); the default socket buffer
// (about 200 KiB) drops datagrams the kernel never tells us about. The kernel caps the request
// at net.core.rmem_max, so this is a wish, not a promise.
constexpr int kUdpReceiveBufferBytes = 4 * 1024 * 1024;

// Thread-safe, unlike strerror: several sources may fail on their own threads at once.
std::string errno_text(int error) { return std::generic_category().message(error); }

// "127.0.0.1:9000" or "[::1]:9000", numeric, for names and messages.
std::string address_text(const sockaddr* address, socklen_t length) {
    char host[NI_MAXHOST];
    char port[NI_MAXSERV];
    if (::getnameinfo(address, length, host, sizeof host, port, sizeof port,
                      NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        return "an unknown address";
    }
    const bool v6 = address->sa_family == AF_INET6;
    std::string out = v6 ? "[" : "";
    out += host;
    out += v6 ? "]:" : ":";
    return out + port;
}

// Calls back, counts, and keeps the first messages: the part of run() every source shares.
class LineHandler {
public:
    LineHandler(TickParser& parser, const TickCallbacks& callbacks, TickSourceReport& report,
                bool datagram)
        : parser_(parser), callbacks_(callbacks), report_(report), datagram_(datagram) {}

    void line(std::string_view text) {
        const std::uint64_t number = ++report_.lines;
        auto parsed = parser_.parse_line(text, number);
        if (const auto* tick = std::get_if<Tick>(&parsed)) {
            ++report_.ticks;
            if (std::isnan(tick->value)) ++report_.gaps;
            callbacks_.on_tick(*tick);
        } else if (auto* error = std::get_if<TickError>(&parsed)) {
            bad(std::move(*error));
        }
    }

    void overlong_line() {
        const std::uint64_t number = ++report_.lines;
        bad(TickError{number, TickErrorKind::kLineTooLong,
                      "line is longer than " + std::to_string(kMaxLineBytes) +
                          " bytes (kMaxLineBytes in engine/io/tick_source.hpp) and was skipped; "
                          "is the input split into lines by '\\n'?"});
    }

    // Datagram sources: the current datagram's origin, put into words only for a bad line.
    sockaddr_storage sender{};
    socklen_t sender_length = 0;

private:
    void bad(TickError error) {
        ++report_.bad_lines;
        ++report_.bad_by_kind[static_cast<std::size_t>(error.kind)];
        const bool keep = report_.first_errors.size() < kKeptErrorMessages;
        if (!keep && !callbacks_.on_bad_line) return;  // counted; no one reads the message
        std::string where = datagram_ ? report_.source + " line " +
                                            std::to_string(error.line_number) + " from " +
                                            address_text(reinterpret_cast<const sockaddr*>(&sender),
                                                         sender_length)
                                      : report_.source + ":" + std::to_string(error.line_number);
        std::string report_line = where + ": " + error.message;
        if (callbacks_.on_bad_line) callbacks_.on_bad_line(error, report_line);
        if (keep) report_.first_errors.push_back(std::move(report_line));
    }

    TickParser& parser_;
    const TickCallbacks& callbacks_;
    TickSourceReport& report_;
    bool datagram_;
};

HostPort split_host_port(std::string_view text) {
    try {
        return parse_host_port(text);
    } catch (const std::invalid_argument& defect) {
        throw TickSourceError("udp address \"" + std::string(text) +
                              "\": expected host:port, e.g. 127.0.0.1:9000, [::1]:9000, or "
                              ":9000 for every local address (" + defect.what() + ")");
    }
}

void close_fd(int fd) noexcept {
    if (fd >= 0) ::close(fd);
}

}  // namespace

std::string TickSourceReport::summary() const {
    std::string out = source + ": " + std::to_string(lines) + " lines, " + std::to_string(ticks) +
                      " ticks (" + std::to_string(gaps) + " gaps), " + std::to_string(bad_lines) +
                      " bad lines";
    if (bad_lines != 0) {
        std::string kinds;
        for (std::size_t k = 0; k < kTickErrorKinds; ++k) {
            if (bad_by_kind[k] == 0) continue;
            if (!kinds.empty()) kinds += ", ";
            kinds += std::to_string(bad_by_kind[k]) + " ";
            kinds += to_string(static_cast<TickErrorKind>(k));
        }
        out += " (" + kinds + ")";
    }
    if (datagrams != 0) out += ", " + std::to_string(datagrams) + " datagrams";
    if (!first_errors.empty()) out += "; first: " + first_errors.front();
    if (!failure.empty()) out += "; stopped early: " + failure;
    return out;
}

TickSource::TickSource(Kind kind, int fd, bool owns_fd, std::uint16_t local_port,
                       std::string name, const TickFormat& format)
    : kind_(kind), fd_(fd), owns_fd_(owns_fd), local_port_(local_port), name_(std::move(name)),
      parser_([&] {
          try {
              return TickParser(format);
          } catch (...) {
              if (owns_fd) close_fd(fd);  // the destructor will not run
              throw;
          }
      }()) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        const int error = errno;
        if (owns_fd_) close_fd(fd_);
        throw TickSourceError(name_ + ": cannot create the pipe that wakes the reader on stop(): " +
                              errno_text(error) + "; the process may be out of file descriptors");
    }
    wake_read_fd_ = pipe_fds[0];
    wake_write_fd_ = pipe_fds[1];
}

TickSource::~TickSource() {
    if (owns_fd_) close_fd(fd_);
    close_fd(wake_read_fd_);
    close_fd(wake_write_fd_);
}

TickSource TickSource::open_file(const std::filesystem::path& path, const TickFormat& format) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        throw TickSourceError(path.string() + ": cannot open the tick file: " +
                              errno_text(errno) + ". Check the path and its permissions.");
    }
    return TickSource(Kind::kStream, fd, true, 0, path.string(), format);
}

TickSource TickSource::open_stdin(const TickFormat& format) {
    return TickSource(Kind::kStream, STDIN_FILENO, false, 0, "stdin", format);
}

TickSource TickSource::open_udp(std::string_view host_port, const TickFormat& format) {
    const HostPort where = split_host_port(host_port);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const int resolved = ::getaddrinfo(where.host.empty() ? nullptr : where.host.c_str(),
                                       where.port.c_str(), &hints, &found);
    if (resolved != 0) {
        throw TickSourceError("udp " + std::string(host_port) + ": cannot resolve the host: " +
                              ::gai_strerror(resolved) + ". Use an address of this machine.");
    }
    const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> results(found, &::freeaddrinfo);
    // Every local address: an IPv6 socket with V6ONLY off also takes IPv4 (as ::ffff:a.b.c.d),
    // so try IPv6 first; a named host binds the first of its addresses that works.
    std::vector<const addrinfo*> candidates;
    for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
        if (where.host.empty() && a->ai_family == AF_INET6) candidates.insert(candidates.begin(), a);
        else candidates.push_back(a);
    }
    std::string failures;
    for (const addrinfo* a : candidates) {
        const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            failures += "; " + address_text(a->ai_addr, a->ai_addrlen) + ": " + errno_text(errno);
            continue;
        }
        if (a->ai_family == AF_INET6 && where.host.empty()) {
            const int off = 0;
            ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);  // IPv4 too, if allowed
        }
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kUdpReceiveBufferBytes,
                     sizeof kUdpReceiveBufferBytes);  // a wish; see kUdpReceiveBufferBytes
        if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0) {
            failures += "; " + address_text(a->ai_addr, a->ai_addrlen) + ": " + errno_text(errno);
            ::close(fd);
            continue;
        }
        sockaddr_storage bound{};
        socklen_t bound_length = sizeof bound;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_length);
        const auto port = ntohs(bound.ss_family == AF_INET6
                                    ? reinterpret_cast<const sockaddr_in6&>(bound).sin6_port
                                    : reinterpret_cast<const sockaddr_in&>(bound).sin_port);
        return TickSource(Kind::kDatagram, fd, true, port,
                          "udp " + address_text(reinterpret_cast<const sockaddr*>(&bound),
                                                bound_length),
                          format);
    }
    throw TickSourceError("udp " + std::string(host_port) + ": cannot bind" + failures +
                          ". Is another program listening on that port? Pick another port, or "
                          "0 for a free one.");
}

void TickSource::stop() noexcept {
    const char byte = 1;
    // Full pipe (EAGAIN): a wake-up is already pending, which is all we need.
    [[maybe_unused]] const ssize_t written = ::write(wake_write_fd_, &byte, 1);
}

TickSourceReport TickSource::run(const TickCallbacks& callbacks) {
    TickSourceReport report;
    report.source = name_;
    LineHandler handler(parser_, callbacks, report, kind_ == Kind::kDatagram);
    const bool datagram = kind_ == Kind::kDatagram;
    std::vector<char> buffer(datagram ? kDatagramBytes : kReadBytes);
    // A stream line cut by the end of a read waits here for its end; one cut line at a time.
    std::string carry;
    carry.reserve(kMaxLineBytes);
    bool carry_overlong = false;

    // Lines of `bytes`; the last piece ends a line only if `ends_line` (end of datagram).
    const auto split = [&](std::string_view bytes, bool ends_line) {
        while (!bytes.empty()) {
            const std::size_t newline = bytes.find('\n');
            const std::string_view piece = bytes.substr(0, newline);
            if (newline == std::string_view::npos && !ends_line) {
                // Only stream sources cut lines; keep the piece for the next read.
                if (carry_overlong || carry.size() + piece.size() > kMaxLineBytes) {
                    carry_overlong = true;
                    carry.clear();
                } else {
                    carry.append(piece);
                }
                return;
            }
            if (carry_overlong || carry.size() + piece.size() > kMaxLineBytes) {
                handler.overlong_line();
            } else if (!carry.empty()) {
                carry.append(piece);
                handler.line(carry);
            } else {
                handler.line(piece);
            }
            carry.clear();
            carry_overlong = false;
            if (newline == std::string_view::npos) return;
            bytes.remove_prefix(newline + 1);
        }
    };

    std::array<pollfd, 2> waits{{{fd_, POLLIN, 0}, {wake_read_fd_, POLLIN, 0}}};
    for (;;) {
        if (::poll(waits.data(), waits.size(), -1) < 0) {
            if (errno == EINTR) continue;
            report.failure = "poll failed: " + errno_text(errno);
            break;
        }
        if (waits[1].revents != 0) break;  // stop(); the byte stays, so a later run() ends too
        if (datagram) {
            handler.sender_length = sizeof handler.sender;
            // MSG_DONTWAIT: poll can report a datagram that the kernel then drops (bad checksum).
            const ssize_t n = ::recvfrom(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT,
                                         reinterpret_cast<sockaddr*>(&handler.sender),
                                         &handler.sender_length);
            if (n < 0) {
                if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
                report.failure = "receive failed: " + errno_text(errno);
                break;
            }
            ++report.datagrams;
            split({buffer.data(), static_cast<std::size_t>(n)}, true);
        } else {
            const ssize_t n = ::read(fd_, buffer.data(), buffer.size());
            if (n < 0) {
                if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
                report.failure = "read failed: " + errno_text(errno);
                break;
            }
            if (n == 0) {  // end of input: a last line without '\n' is still a line
                if (carry_overlong) handler.overlong_line();
                else if (!carry.empty()) handler.line(carry);
                break;
            }
            split({buffer.data(), static_cast<std::size_t>(n)}, false);
        }
    }
    return report;
}

}  // namespace statestream::engine::io
