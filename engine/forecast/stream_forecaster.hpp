#pragma once
// Quantile forecasts for many tick streams at once (docs/forecast.md): one forecasting model,
// shared and read-only, and a preallocated pool of stream slots, each holding one stream's
// whole state (the model's recurrent state, the ticks-v1 features, the quantile readout's
// adaptation). A batch of ticks from any streams goes in; every tick of a live stream that
// has a value to forecast from comes out as q10/q50/q90 for horizons 1..H, in input order.
//
// Inside a batch, ticks are grouped into rounds of at most one tick per stream (a stream's
// ticks stay in order), and each round runs SsmModel::step_batch over its streams in chunks of
// ForecasterOptions::chunk_streams, the chunks in parallel on oneTBB. Every stream's arithmetic
// is its own, so the forecasts are bit-identical whatever the batching, the chunking or the
// number of threads, and bit-identical to the one-stream-at-a-time mode (batched = false).
//
// Streams come and go: a stream takes a free slot on its first tick. With a state directory,
// a stream whose snapshot is there resumes where it was saved (bit for bit), and save_all() or
// an eviction writes snapshots there. When every slot is live, a new stream is refused or the
// least recently ticked stream is evicted, as the options say.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/io/tick_parser.hpp"
#include "models/ssm_model.hpp"

namespace statestream::engine::forecast {

// What happens to a tick of a new stream when all max_streams slots are live.
enum class PoolFullPolicy : std::uint8_t {
    kRefuse,     // the tick is refused and counted; the stream gets a slot once one is free
    kEvictIdle,  // the least recently ticked stream is saved to the state directory (dropped,
                 // and counted, without one) and its slot goes to the new stream
};
// "refuse", "evict-idle": the names the command line and reports use.
[[nodiscard]] std::string_view pool_full_policy_name(PoolFullPolicy policy) noexcept;
[[nodiscard]] std::optional<PoolFullPolicy> parse_pool_full_policy(std::string_view name) noexcept;

// Streams per SsmModel::step_batch call, and per oneTBB task. The projections share each
// weight load among the rows of a call (models/cpu/x86/dense_avx2.cpp), and 32 steps of the
// shipped forecaster (about 5 us each on one core) outweigh a task's scheduling cost (about
// 1 us) a hundred times over, while a round of a few hundred streams still fills every core.
inline constexpr std::size_t kDefaultChunkStreams = 32;
// Ticks per internal pass over a batch; bounds the output buffer (3 * H floats per tick) that
// holds forecasts until they are delivered in input order. A longer batch is processed in
// passes of this many ticks, which changes nothing in the results.
inline constexpr std::size_t kDefaultMaxPassTicks = 4096;
// Messages (refused streams, snapshot problems) held for take_messages(); later ones are
// counted in ForecasterStats::messages_dropped until the caller takes them.
inline constexpr std::size_t kMaxPendingMessages = 64;

struct ForecasterOptions {
    std::uint32_t horizon = 0;  // horizons emitted, 1..model H; 0: all H of the model
    std::uint32_t season = 0;   // the season P of every stream: 0 = none, else 2..max_season
    bool adapt = true;          // false: no online adaptation (off = g = 0 throughout)
    std::size_t max_streams = io::kDefaultMaxStreams;  // slots, preallocated at construction
    PoolFullPolicy when_full = PoolFullPolicy::kRefuse;
    // Where streams' snapshots live ("<escaped stream id>.state", see state_file_name()).
    // Empty: no snapshots (evicted streams are dropped). Created when missing.
    std::filesystem::path state_dir;
    // false: every tick is its own model step of batch size 1, in input order, on the calling
    // thread: the baseline a benchmark compares the batched path with, in the same run.
    bool batched = true;
    std::size_t chunk_streams = kDefaultChunkStreams;  // >= 1
    // Threads for the chunks of a round: 0 = oneTBB's default (every core), 1 = the calling
    // thread only. Rounds of at most one chunk always run on the calling thread.
    std::size_t threads = 0;
    std::size_t max_pass_ticks = kDefaultMaxPassTicks;  // >= 1
};

// One tick's forecast, as the callback sees it. The spans point into the forecaster's buffers
// and are valid only during the callback.
struct Forecast {
    std::uint32_t stream = 0;   // Tick::stream: the index in the StreamIds given at construction
    std::int64_t time_ns = 0;   // the tick's timestamp
    float value = 0.0f;         // the tick's value; NaN for a gap (gaps are forecast from too)
    // horizon() values each; [h - 1] is horizon h (h ticks of this stream ahead), in value
    // units, adapted unless adapt is off. q10 <= q50 <= q90 at every horizon.
    std::span<const float> q10;
    std::span<const float> q50;
    std::span<const float> q90;
};

// A non-owning reference to the caller's callable `void(const Forecast&)`, so that passing a
// lambda to process() never allocates (a std::function holding a capture might). The callable
// must outlive the call it is passed to, which a lambda written in the call's argument list
// does.
class ForecastCallback {
public:
    template <typename F>
        requires(!std::is_same_v<std::remove_cvref_t<F>, ForecastCallback> &&
                 std::is_invocable_v<F&, const Forecast&>)
    ForecastCallback(F&& callable) noexcept  // NOLINT: implicit, so a lambda passes directly
        : object_(const_cast<void*>(static_cast<const void*>(std::addressof(callable)))),
          call_([](void* object, const Forecast& forecast) {
              (*static_cast<std::remove_reference_t<F>*>(object))(forecast);
          }) {}

    void operator()(const Forecast& forecast) const { call_(object_, forecast); }

private:
    void* object_;
    void (*call_)(void*, const Forecast&);
};

struct ForecasterStats {
    std::uint64_t ticks = 0;             // ticks accepted and processed (gaps included)
    std::uint64_t forecasts = 0;         // delivered to the callback
    std::uint64_t ticks_before_value = 0;  // accepted, but the stream had no finite value yet
    std::uint64_t gaps = 0;              // accepted ticks whose value is NaN
    std::uint64_t refused = 0;           // ticks refused: pool full under kRefuse, or a stream
                                         // index beyond the StreamIds' max_streams()
    std::uint64_t streams_started = 0;   // slots taken (fresh, restored or after an eviction)
    std::size_t streams_live = 0;        // slots in use now
    std::uint64_t evicted = 0;           // slots freed for other streams or by evict_idle_older_than
    std::uint64_t evicted_dropped = 0;   // ... of which with no state directory: state lost
    std::uint64_t restored = 0;          // streams resumed from a snapshot
    std::uint64_t restore_failures = 0;  // snapshots refused (another model, version, stream,
                                         // corrupt): the stream started fresh instead
    std::uint64_t saved = 0;             // snapshots written (evictions and save_all())
    std::uint64_t save_failures = 0;     // snapshots that could not be written
    std::uint64_t messages_dropped = 0;  // messages beyond kMaxPendingMessages, counted only
    std::int64_t newest_time_ns = 0;     // largest tick timestamp accepted so far
    std::size_t bytes_per_stream = 0;    // one slot's state: model + features + readout
};

class StreamForecaster {
public:
    // Thread: setup; allocates every slot, workspace and buffer up front. `model` must be a
    // forecasting model (task "forecast", docs/forecast.md); `model` and `stream_ids` (the
    // source's, which names the streams in messages and snapshot files) must outlive the
    // forecaster. Throws std::invalid_argument naming the option and its allowed range when an
    // option does not fit the model (horizon above the model's, season above max_season, zero
    // sizes), and std::runtime_error naming the directory when state_dir cannot be created.
    StreamForecaster(const models::SsmModel& model, const io::StreamIds& stream_ids,
                     const ForecasterOptions& options);
    ~StreamForecaster();
    StreamForecaster(const StreamForecaster&) = delete;
    StreamForecaster& operator=(const StreamForecaster&) = delete;

    // Thread: the forecasting thread (one caller at a time); runs oneTBB tasks inside. Processes
    // `ticks` (any streams, any mix; each stream's ticks in time order, as the parser delivers
    // them) and calls `on_forecast` once per accepted tick whose stream has had a finite value,
    // in input order, after that tick's work (adapt -> features -> model -> head -> remember).
    // Ticks before a stream's first finite value and refused ticks are counted in stats(), not
    // delivered. No allocation per tick: allocation and file I/O happen only when a stream is
    // first seen (reading its snapshot), evicted (writing one) and for messages. Problems with
    // snapshots or the pool are counted and reported through take_messages(); it never throws
    // for them. An exception from `on_forecast` propagates; the streams' state then already
    // includes the rest of the pass, whose forecasts are not delivered. Sets flush-to-zero and
    // denormals-are-zero (dsp/flush_denormals.hpp) on the calling thread and on every thread
    // that runs a chunk, so that where a stream's step runs never changes a bit of it.
    void process(std::span<const io::Tick> ticks, ForecastCallback on_forecast);

    // Thread: the forecasting thread, between process() calls. Evicts every live stream whose
    // last tick is older than `time_ns` (tick time, not wall-clock time: e.g.
    // stats().newest_time_ns - idle_ns), saving it to the state directory or dropping it as an
    // eviction for a new stream does. Returns how many streams it evicted.
    std::size_t evict_idle_older_than(std::int64_t time_ns);

    // Thread: the forecasting thread, between process() calls. Writes every live stream's
    // whole state to the state directory, one file per stream, each atomically (a temporary
    // file renamed over the old snapshot). Streams stay live. Returns how many files were
    // written; failures are counted (stats().save_failures) and reported in take_messages().
    // Without a state directory it writes nothing and returns 0.
    std::size_t save_all();

    // Thread: the forecasting thread. The messages gathered since the last call, oldest first,
    // each one line naming the stream or file, the problem and the fix.
    [[nodiscard]] std::vector<std::string> take_messages();

    // Thread: the forecasting thread (or any, while it is idle).
    [[nodiscard]] const ForecasterStats& stats() const noexcept;
    [[nodiscard]] std::uint32_t horizon() const noexcept;        // horizons emitted
    [[nodiscard]] std::uint32_t model_horizon() const noexcept;  // H of the model
    [[nodiscard]] const ForecasterOptions& options() const noexcept;
    // Whether stream index `stream` holds a slot now.
    [[nodiscard]] bool is_live(std::uint32_t stream) const noexcept;

    // The snapshot file name of a stream id: bytes outside [A-Za-z0-9._-] become %XX
    // (uppercase hex), then ".state" ("AAPL" -> "AAPL.state", "a/b c" -> "a%2Fb%20c.state").
    [[nodiscard]] static std::string state_file_name(std::string_view stream_id);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace statestream::engine::forecast
