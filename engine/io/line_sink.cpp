#include "engine/io/line_sink.hpp"

#include "engine/io/host_port.hpp"

#include <cerrno>
#include <system_error>

#include <fcntl.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

namespace statestream::engine::io {

namespace {

// Lines are written out in pieces of this size: one write() per 64 KiB costs nothing next to
// formatting the lines, and a live reader still sees each batch (flush() after each).
constexpr std::size_t kFileBufferBytes = 64 * 1024;
constexpr std::string_view kUdpScheme = "udp://";

// Thread-safe, unlike strerror.
std::string errno_text(int error) { return std::generic_category().message(error); }

class FdLineSink final : public LineSink {
public:
    FdLineSink(int fd, bool owns_fd, std::string target)
        : LineSink(std::move(target), false), fd_(fd), owns_fd_(owns_fd) {
        buffer_.reserve(kFileBufferBytes);
    }
    // Writes what is left, best effort: the command calls flush() itself and so learns of a
    // failure; this only keeps an exception path from losing lines that could still be written.
    ~FdLineSink() override {
        try {
            flush();
        } catch (const LineSinkError&) {  // reported by the flush() the owner makes
        }
        if (owns_fd_) ::close(fd_);
    }

    void write_line(std::string_view line) override {
        if (buffer_.size() + line.size() + 1 > kFileBufferBytes) flush();
        buffer_.append(line);
        buffer_.push_back('\n');
        ++report_.lines;
    }

    void flush() override {
        std::size_t done = 0;
        while (done < buffer_.size()) {
            const ssize_t n = ::write(fd_, buffer_.data() + done, buffer_.size() - done);
            if (n < 0) {
                if (errno == EINTR) continue;
                const int error = errno;
                buffer_.clear();  // a second flush must not write a partial line twice
                throw LineSinkError(report_.target + ": cannot write the output: " +
                                    errno_text(error) +
                                    (error == ENOSPC ? ". Free some disk space, or write elsewhere."
                                                     : ". Check where the output goes."));
            }
            done += static_cast<std::size_t>(n);
        }
        report_.bytes += done;
        buffer_.clear();
    }

private:
    int fd_;
    bool owns_fd_;
    std::string buffer_;
};

class UdpLineSink final : public LineSink {
public:
    UdpLineSink(int fd, std::string target, DatagramPacking packing)
        : LineSink(std::move(target), true), fd_(fd), packing_(packing) {
        buffer_.reserve(kMaxDatagramBytes);
    }
    ~UdpLineSink() override {
        flush();
        ::close(fd_);
    }

    void write_line(std::string_view line) override {
        ++report_.lines;
        if (line.size() + 1 > kMaxDatagramBytes) {  // no datagram can hold it
            ++report_.lines_lost;
            if (report_.first_error.empty()) {
                report_.first_error = "a line of " + std::to_string(line.size()) +
                                      " bytes does not fit in one datagram (" +
                                      std::to_string(kMaxDatagramBytes) + " bytes at most)";
            }
            return;
        }
        if (!buffer_.empty() && buffer_.size() + line.size() + 1 > kPackedDatagramBytes) flush();
        buffer_.append(line);
        buffer_.push_back('\n');
        ++buffered_lines_;
        if (packing_ == DatagramPacking::kOneLine || buffer_.size() >= kPackedDatagramBytes) flush();
    }

    void flush() noexcept override {
        if (buffer_.empty()) return;
        ssize_t sent = -1;
        do {
            sent = ::send(fd_, buffer_.data(), buffer_.size(), 0);
        } while (sent < 0 && errno == EINTR);
        if (sent < 0) {
            report_.lines_lost += buffered_lines_;
            // ECONNREFUSED: the previous datagram met a closed port (ICMP port unreachable);
            // the receiver may come back, so keep sending.
            if (report_.first_error.empty()) report_.first_error = "send failed: " + errno_text(errno);
        } else {
            ++report_.datagrams;
            report_.bytes += static_cast<std::uint64_t>(sent);
        }
        buffer_.clear();
        buffered_lines_ = 0;
    }

private:
    int fd_;
    DatagramPacking packing_;
    std::string buffer_;
    std::uint64_t buffered_lines_ = 0;
};

// "host:port" or "[v6]:port" of a destination; the host is required.
std::pair<std::string, std::string> split_destination(std::string_view target, std::string_view text) {
    const std::string usage = std::string(target) +
                              ": expected udp://HOST:PORT, e.g. udp://127.0.0.1:9001 or "
                              "udp://[::1]:9001";
    HostPort where;
    try {
        where = parse_host_port(text);
    } catch (const std::invalid_argument& defect) {
        throw LineSinkError(usage + " (" + defect.what() + ")");
    }
    // A destination needs a host and a real port; binding to "every address" or port 0 makes
    // sense only for a listening source.
    if (where.host.empty()) throw LineSinkError(usage + " (no host to send to)");
    if (std::stoul(where.port) == 0) {
        throw LineSinkError(usage + " (port \"0\" is not a number from 1 to 65535)");
    }
    return {where.host, where.port};
}

std::unique_ptr<LineSink> open_udp(std::string_view target, DatagramPacking packing) {
    const auto [host, port] = split_destination(target, target.substr(kUdpScheme.size()));
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    const int resolved = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found);
    if (resolved != 0) {
        throw LineSinkError(std::string(target) + ": cannot resolve \"" + host +
                            "\": " + ::gai_strerror(resolved) + ". Check the host name.");
    }
    const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> results(found, &::freeaddrinfo);
    std::string failures;
    for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
        const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            failures += "; " + errno_text(errno);
            continue;
        }
        // connect() fixes the destination, so send() needs no address and a refused datagram's
        // ICMP error comes back to us as ECONNREFUSED instead of vanishing.
        if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            failures += "; " + errno_text(errno);
            ::close(fd);
            continue;
        }
        return std::make_unique<UdpLineSink>(fd, "udp " + host + ":" + port, packing);
    }
    throw LineSinkError(std::string(target) + ": cannot open a UDP socket to it" + failures +
                        ". Check the address and the network.");
}

}  // namespace

std::unique_ptr<LineSink> LineSink::open(std::string_view target, DatagramPacking packing) {
    if (target == "-") return std::make_unique<FdLineSink>(STDOUT_FILENO, false, "stdout");
    if (target.starts_with(kUdpScheme)) return open_udp(target, packing);
    if (target.empty()) throw LineSinkError("an empty output path: give a file, - for stdout, or udp://HOST:PORT");
    const std::string path(target);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        throw LineSinkError(path + ": cannot create the output file: " + errno_text(errno) +
                            ". Check that its folder exists and is writable.");
    }
    return std::make_unique<FdLineSink>(fd, true, path);
}

}  // namespace statestream::engine::io
