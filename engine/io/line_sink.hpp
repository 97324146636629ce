#pragma once
// Where text lines go: stdout, a file, or UDP datagrams to host:port. The forecast command writes
// one line per tick through it; the lines carry no '\n' in and get one each on the way out.
// A sink runs on one non-real-time thread (it allocates its buffer once and does I/O).
//
// Files and stdout are buffered and written when the buffer fills or on flush(); a write error
// (disk full, closed pipe) throws, because a forecast file with a hole in it is worse than none.
// UDP is lossy by design: a datagram the kernel refuses (nobody listening, buffer full) is
// counted and its first error kept, and the sink goes on, as a UDP tick source does on input.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace statestream::engine::io {

// 1500-byte Ethernet MTU minus 40 bytes of IPv6 and 8 of UDP header, less 52 bytes of room for
// a tunnel (VPN, VXLAN): a packed datagram this size crosses a LAN without IP fragmentation,
// where losing one fragment loses the whole datagram.
inline constexpr std::size_t kPackedDatagramBytes = 1400;
// The largest UDP payload over IPv4 (65535 - 20 - 8); a longer line cannot be sent at all.
inline constexpr std::size_t kMaxDatagramBytes = 65507;

// A sink that cannot start (unwritable file, unresolvable host) or a file/stdout write that
// failed. The message starts with the target and says what to do.
class LineSinkError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class DatagramPacking : std::uint8_t {
    kOneLine,  // one line per datagram: a reader sees each line the moment it is written
    kPacked,   // as many whole lines as fit in kPackedDatagramBytes: fewer syscalls and packets
};

struct LineSinkReport {
    std::string target;              // "stdout", "forecast.csv", "udp 127.0.0.1:9001"
    std::uint64_t lines = 0;         // handed to write_line()
    std::uint64_t bytes = 0;         // written or sent, newlines included
    std::uint64_t datagrams = 0;     // UDP: sent
    std::uint64_t lines_lost = 0;    // UDP: in datagrams the kernel refused, or too long to send
    std::string first_error;         // UDP: the first send error; empty if none
};

class LineSink {
public:
    // Thread: setup. "-" is stdout, "udp://HOST:PORT" sends datagrams there (HOST a name, an
    // IPv4 address or [IPv6]), anything else is a file path, created or truncated. Throws
    // LineSinkError naming the target when it cannot be opened or resolved.
    [[nodiscard]] static std::unique_ptr<LineSink> open(std::string_view target,
                                                        DatagramPacking packing = DatagramPacking::kPacked);

    virtual ~LineSink() = default;
    LineSink(const LineSink&) = delete;
    LineSink& operator=(const LineSink&) = delete;

    // Thread: the writer's. `line` without its '\n'. Throws LineSinkError on a file or stdout
    // write error; never throws for UDP loss.
    virtual void write_line(std::string_view line) = 0;
    // Thread: the writer's. Everything written so far leaves the process now (a live reader
    // sees it); call it after each batch, and before the end.
    virtual void flush() = 0;

    [[nodiscard]] const LineSinkReport& report() const noexcept { return report_; }
    [[nodiscard]] bool is_udp() const noexcept { return udp_; }

protected:
    LineSink(std::string target, bool udp) : udp_(udp) { report_.target = std::move(target); }
    LineSinkReport report_;

private:
    bool udp_;
};

}  // namespace statestream::engine::io
