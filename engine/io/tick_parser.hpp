#pragma once
// The tick grammar, one for every source (CSV file, stdin, UDP): `stream_id,timestamp,value`
// per line, then the declared covariates. docs/ticks.md is the contract; this parser is it.
// A bad line becomes a TickError naming the line, the column and the fix, and the stream goes
// on; the parser never throws on input.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace statestream::engine::io {

// Covariates travel inside the Tick so that a tick stays trivially copyable for the ring that
// carries it to the model thread; 8 covers bid/ask/volume-style feeds with room to spare.
inline constexpr std::size_t kMaxCovariates = 8;
// Stream ids are names (`AAPL`, `sensor-3`), not payloads; the cap bounds the table's memory.
inline constexpr std::size_t kMaxStreamIdBytes = 64;
// Every distinct id costs a model state downstream, so a feed of garbage ids (one random id per
// UDP datagram) must not grow the table without bound.
inline constexpr std::size_t kDefaultMaxStreams = 1024;

struct Tick {
    std::uint32_t stream = 0;   // dense index from StreamIds, in order of first appearance
    std::int64_t time_ns = 0;   // nanoseconds, exact (docs/ticks.md, "Timestamps")
    float value = 0.0f;         // NaN: a gap (empty or `nan` in the file)
    std::array<float, kMaxCovariates> covariates{};  // first TickFormat::covariates.size() used;
                                                     // NaN: a gap in that covariate
};

// Maps stream id strings to dense indices 0, 1, 2, ... in order of first appearance.
// Writes (find_or_add) happen on one thread, the source's; name() and size() may be read from
// any thread, since the names are written once into storage sized at construction and published
// by a release store of the count.
class StreamIds {
public:
    // Thread: setup. Allocates room for `max_streams` names.
    explicit StreamIds(std::size_t max_streams = kDefaultMaxStreams);

    // Thread: the source's. The index of `id`, adding it when new (allocates only then).
    // Empty when `id` is new and the table already holds max_streams() ids.
    [[nodiscard]] std::optional<std::uint32_t> find_or_add(std::string_view id);
    // Thread: the source's. The index of `id`, if it has been added. Never allocates.
    [[nodiscard]] std::optional<std::uint32_t> find(std::string_view id) const noexcept;

    // Thread: any. Ids added so far; name(i) is valid for every i below it.
    [[nodiscard]] std::size_t size() const noexcept {
        return count_.load(std::memory_order_acquire);  // pairs with the release in find_or_add
    }
    [[nodiscard]] std::string_view name(std::uint32_t index) const noexcept {
        return names_[index];
    }
    [[nodiscard]] std::size_t max_streams() const noexcept { return max_streams_; }

private:
    struct Hash {
        using is_transparent = void;  // find by string_view without building a std::string
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    std::size_t max_streams_;
    std::unique_ptr<std::string[]> names_;  // max_streams_ slots, never reallocated
    std::atomic<std::size_t> count_{0};
    std::unordered_map<std::string, std::uint32_t, Hash, std::equal_to<>> index_;
};

struct TickFormat {
    // Names of the columns after `value`, in order. At most kMaxCovariates; each non-empty,
    // unique, of the same characters as a stream id, and not stream_id, timestamp or value.
    std::vector<std::string> covariates;
    std::size_t max_streams = kDefaultMaxStreams;
};

enum class TickErrorKind : std::uint8_t {
    kColumns,     // too few or too many columns for the declared format
    kStreamId,    // empty, too long, bad characters, or one id too many
    kTimestamp,   // not a timestamp of the grammar, or beyond int64 nanoseconds
    kValue,       // not a float, infinite, or out of float range
    kCovariate,   // as kValue, in a declared covariate column
    kOutOfOrder,  // older than the last tick of the same stream
    kHeader,      // a header whose covariate names differ from the declared ones
    kLineTooLong, // set by sources: more than kMaxLineBytes before the newline
};
inline constexpr std::size_t kTickErrorKinds = 8;
[[nodiscard]] std::string_view to_string(TickErrorKind kind) noexcept;

struct TickError {
    std::uint64_t line_number = 0;
    TickErrorKind kind = TickErrorKind::kColumns;
    std::string message;  // what is wrong and how to fix it, without the source and line
};

// Lines that carry no tick and are not errors.
enum class SkippedLine : std::uint8_t { kBlank, kComment, kHeader };

using ParsedLine = std::variant<Tick, SkippedLine, TickError>;

class TickParser {
public:
    // Thread: setup. Throws std::invalid_argument naming the bad covariate declaration.
    explicit TickParser(TickFormat format);

    // Thread: the source's. `line` is one line without its '\n' (a trailing '\r' is dropped);
    // `line_number` counts from 1 and only goes into errors. A good line allocates nothing once
    // its stream id has been seen; a bad line allocates its message. Never throws on input.
    [[nodiscard]] ParsedLine parse_line(std::string_view line, std::uint64_t line_number);

    [[nodiscard]] const TickFormat& format() const noexcept { return format_; }
    [[nodiscard]] const StreamIds& stream_ids() const noexcept { return stream_ids_; }

private:
    TickFormat format_;
    StreamIds stream_ids_;
    std::vector<std::int64_t> last_time_ns_;  // per stream index; sized max_streams up front
    bool seen_content_ = false;               // a non-blank, non-comment line has been parsed
};

}  // namespace statestream::engine::io
