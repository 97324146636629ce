#pragma once
// "host:port" as the UDP tick source and the UDP line sink take it: "127.0.0.1:9000",
// "[::1]:9000" (an IPv6 address in brackets), "name:9000"; an empty host or "*" means every
// local address. One parser, so both ends of a pipeline accept the same spellings.

#include <stdexcept>
#include <string>
#include <string_view>

namespace statestream::engine::io {

struct HostPort {
    std::string host;  // empty: every local address ("" or "*" before the colon)
    std::string port;  // decimal digits, 0..65535
};

// Thread: setup. Throws std::invalid_argument whose message is the defect alone ("no port",
// "put an IPv6 address in brackets: [::1]:port", ...); callers prefix what they expected.
[[nodiscard]] HostPort parse_host_port(std::string_view text);

}  // namespace statestream::engine::io
