#include "engine/io/host_port.hpp"

namespace statestream::engine::io {

HostPort parse_host_port(std::string_view text) {
    HostPort out;
    std::string_view rest;
    if (text.starts_with('[')) {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos) throw std::invalid_argument("no closing ']'");
        out.host = std::string(text.substr(1, close - 1));
        rest = text.substr(close + 1);
        if (!rest.starts_with(':')) throw std::invalid_argument("no ':' after ']'");
        rest.remove_prefix(1);
    } else {
        const std::size_t colon = text.rfind(':');
        if (colon == std::string_view::npos) throw std::invalid_argument("no port");
        out.host = std::string(text.substr(0, colon));
        if (out.host.find(':') != std::string::npos) {
            throw std::invalid_argument("put an IPv6 address in brackets: [" + out.host +
                                        "]:port");
        }
        rest = text.substr(colon + 1);
    }
    if (out.host == "*") out.host.clear();
    const bool digits = !rest.empty() && rest.size() <= 5 &&
                        rest.find_first_not_of("0123456789") == std::string_view::npos;
    if (!digits || std::stoul(std::string(rest)) > 65535) {
        throw std::invalid_argument("port \"" + std::string(rest) +
                                    "\" is not a number from 0 to 65535");
    }
    out.port = std::string(rest);
    return out;
}

}  // namespace statestream::engine::io
