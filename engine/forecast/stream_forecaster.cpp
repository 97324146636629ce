#include "engine/forecast/stream_forecaster.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <system_error>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>

#include "dsp/flush_denormals.hpp"
#include "engine/forecast/forecast_state_file.hpp"
#include "engine/forecast/quantile_readout.hpp"
#include "engine/forecast/tick_features.hpp"

namespace statestream::engine::forecast {

namespace {

constexpr std::int32_t kNoSlot = -1;
// acquire()'s answer when the pool is full and the stream to evict still has ticks waiting in
// this pass: the pass runs first, then the eviction.
constexpr std::int32_t kRunPassFirst = -2;

bool is_plain(unsigned char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

}  // namespace

std::string_view pool_full_policy_name(PoolFullPolicy policy) noexcept {
    switch (policy) {
        case PoolFullPolicy::kRefuse: return "refuse";
        case PoolFullPolicy::kEvictIdle: return "evict-idle";
    }
    return "?";
}

std::optional<PoolFullPolicy> parse_pool_full_policy(std::string_view name) noexcept {
    if (name == "refuse") return PoolFullPolicy::kRefuse;
    if (name == "evict-idle") return PoolFullPolicy::kEvictIdle;
    return std::nullopt;
}

std::string StreamForecaster::state_file_name(std::string_view stream_id) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string name;
    name.reserve(stream_id.size() * 3 + 6);
    for (const char ch : stream_id) {
        const auto c = static_cast<unsigned char>(ch);
        if (is_plain(c)) {
            name += ch;
        } else {
            name += '%';
            name += kHex[c >> 4];
            name += kHex[c & 0xF];
        }
    }
    return name + ".state";
}

// One stream's whole state and its place in the pool. Sized once, at construction.
struct Slot {
    models::StreamState state;
    TickFeatures features;
    QuantileReadout readout;
    std::uint32_t stream = 0;        // the stream index it holds, when live
    bool live = false;
    std::uint64_t last_sequence = 0; // of its latest tick: the least recent is evicted first
    std::int64_t last_time_ns = 0;   // its latest tick's timestamp
    std::uint32_t pending = 0;       // its ticks in the pass being gathered
};

struct StreamForecaster::Impl {
    Impl(const models::SsmModel& model, const io::StreamIds& stream_ids, const ForecasterOptions& options);

    const models::SsmModel& model;
    const io::StreamIds& ids;
    ForecasterOptions options;
    models::ForecastSpec spec;
    std::uint32_t emitted;  // horizons delivered
    std::size_t n_chunks;   // most chunks a round can have

    std::vector<Slot> slots;
    std::vector<std::uint32_t> free_slots;       // a stack of slot indices
    std::vector<std::int32_t> slot_of_stream;    // {ids.max_streams()}: kNoSlot when not live
    std::vector<unsigned char> refusal_reported; // {ids.max_streams()}: one message per stream
    std::uint64_t sequence = 0;

    // The pass: at most options.max_pass_ticks ticks.
    std::vector<std::int32_t> tick_slot;         // kNoSlot: refused
    std::vector<std::uint32_t> tick_round;
    std::vector<std::uint32_t> round_begin;      // {rounds + 1} offsets into by_round
    std::vector<std::uint32_t> by_round;         // tick indices, round by round, input order within
    std::vector<unsigned char> has_forecast;
    std::vector<float> out;                      // {ticks, 3, emitted}: q10, q50, q90

    // One round: at most max_streams positions.
    std::vector<std::uint32_t> round_ticks;      // position -> tick index in the pass
    std::vector<models::StreamState*> states;    // position -> the slot's model state
    std::vector<float> x;                        // {positions, 6}
    std::vector<float> y;                        // {positions, 3H}
    std::vector<double> anchors;                 // {n_chunks, H}: b_h of the tick at hand
    std::vector<models::ModelWorkspace> workspaces;  // {n_chunks}, chunk_streams rows each
    std::unique_ptr<tbb::task_arena> arena;

    // Snapshot scratch, so a save or restore needs no sizing per stream.
    std::vector<float> feature_floats;
    std::vector<float> readout_floats;

    ForecasterStats stats;
    std::vector<std::string> messages;

    void report(std::string message);
    std::filesystem::path state_path(std::uint32_t stream) const;
    std::string stream_name(std::uint32_t stream) const;

    std::int32_t acquire(std::uint32_t stream);
    void start_stream(std::uint32_t slot, std::uint32_t stream);
    void evict(std::uint32_t slot);
    bool save(const Slot& slot);

    void work_on_chunk(std::span<const io::Tick> ticks, std::size_t chunk, std::size_t positions) noexcept;
    void run_pass(std::span<const io::Tick> ticks, ForecastCallback& on_forecast);
    void run_unbatched(const io::Tick& tick, std::int32_t slot, ForecastCallback& on_forecast);
    void deliver(const io::Tick& tick, std::size_t index, ForecastCallback& on_forecast);
};

StreamForecaster::Impl::Impl(const models::SsmModel& model_, const io::StreamIds& stream_ids,
                             const ForecasterOptions& options_)
    : model(model_), ids(stream_ids), options(options_) {
    const models::ModelDescription& description = model.file().description();
    if (description.task != models::Task::kForecast) {
        throw std::invalid_argument(model.file().source() + ": is a '" +
                                    std::string(models::task_name(description.task)) +
                                    "' model; forecasting needs a model of task 'forecast' "
                                    "(docs/forecast.md).");
    }
    spec = description.forecast;
    if (options.horizon > spec.horizon) {
        throw std::invalid_argument("horizon " + std::to_string(options.horizon) + " is beyond the "
                                    "model's " + std::to_string(spec.horizon) + "; pass 1.." +
                                    std::to_string(spec.horizon) + " (or 0 for all).");
    }
    emitted = options.horizon == 0 ? spec.horizon : options.horizon;
    if (options.season != 0 && (options.season < 2 || options.season > spec.max_season)) {
        throw std::invalid_argument("season " + std::to_string(options.season) + " is out of range: "
                                    "pass 0 (none) or 2.." + std::to_string(spec.max_season) +
                                    " (the model's forecast.max_season).");
    }
    if (options.max_streams == 0 || options.chunk_streams == 0 || options.max_pass_ticks == 0) {
        throw std::invalid_argument("max_streams, chunk_streams and max_pass_ticks must each be at "
                                    "least 1.");
    }
    if (!options.state_dir.empty()) {
        std::error_code error;
        std::filesystem::create_directories(options.state_dir, error);
        if (error || !std::filesystem::is_directory(options.state_dir)) {
            throw std::runtime_error(options.state_dir.string() + ": cannot use it as the state "
                                     "directory (" + (error ? error.message() : "not a directory") +
                                     "). Pass a writable directory.");
        }
    }

    const std::size_t H = spec.horizon;
    const std::size_t streams = options.max_streams;
    const std::size_t chunk = std::min(options.chunk_streams, streams);
    n_chunks = (streams + chunk - 1) / chunk;

    slots.reserve(streams);
    for (std::size_t i = 0; i < streams; ++i) {
        slots.push_back(Slot{model.make_state(), TickFeatures(spec), QuantileReadout(spec, options.adapt)});
    }
    free_slots.resize(streams);
    for (std::size_t i = 0; i < streams; ++i) {  // slot 0 on top: the first stream takes it
        free_slots[i] = static_cast<std::uint32_t>(streams - 1 - i);
    }
    slot_of_stream.assign(ids.max_streams(), kNoSlot);
    refusal_reported.assign(ids.max_streams(), 0);

    const std::size_t pass = options.max_pass_ticks;
    tick_slot.resize(pass);
    tick_round.resize(pass);
    round_begin.resize(pass + 1);
    by_round.resize(pass);
    has_forecast.resize(pass);
    out.resize(pass * 3 * emitted);

    round_ticks.resize(streams);
    states.resize(streams);
    x.resize(streams * kTickFeatureCount);
    y.resize(streams * 3 * H);
    anchors.resize(n_chunks * H);
    workspaces.reserve(n_chunks);
    for (std::size_t c = 0; c < n_chunks; ++c) workspaces.emplace_back(model, chunk);
    arena = std::make_unique<tbb::task_arena>(
        options.threads == 0 ? tbb::task_arena::automatic : static_cast<int>(options.threads));

    feature_floats.resize(slots.front().features.state_floats());
    readout_floats.resize(slots.front().readout.state_floats());
    messages.reserve(kMaxPendingMessages);
    stats.bytes_per_stream =
        (model.state_floats() + feature_floats.size() + readout_floats.size()) * sizeof(float) +
        sizeof(Slot);
}

void StreamForecaster::Impl::report(std::string message) {
    if (messages.size() < kMaxPendingMessages) {
        messages.push_back(std::move(message));
    } else {
        ++stats.messages_dropped;
    }
}

std::string StreamForecaster::Impl::stream_name(std::uint32_t stream) const {
    if (stream < ids.size()) return std::string(ids.name(stream));
    std::string numbered = "#";  // appended, not "#" + ...: GCC 12 warns falsely (-Wrestrict)
    numbered += std::to_string(stream);
    return numbered;
}

std::filesystem::path StreamForecaster::Impl::state_path(std::uint32_t stream) const {
    return options.state_dir / state_file_name(stream_name(stream));
}

std::int32_t StreamForecaster::Impl::acquire(std::uint32_t stream) {
    if (stream >= slot_of_stream.size()) {
        // Only a caller that made its own indices can get here; the parser never does.
        if (stats.refused++ == 0) {
            report("stream index " + std::to_string(stream) + " is beyond the stream table's " +
                   std::to_string(slot_of_stream.size()) + " entries; its ticks are refused. "
                   "Give the forecaster the StreamIds that numbered the ticks.");
        }
        return kNoSlot;
    }
    if (slot_of_stream[stream] != kNoSlot) return slot_of_stream[stream];
    if (free_slots.empty()) {
        if (options.when_full == PoolFullPolicy::kRefuse) {
            ++stats.refused;
            if (refusal_reported[stream] == 0) {
                refusal_reported[stream] = 1;
                report("stream '" + stream_name(stream) + "': refused, all " +
                       std::to_string(options.max_streams) + " stream slots (max_streams) are "
                       "live and the pool-full policy is 'refuse'; its ticks are counted as "
                       "refused until a slot frees up. Raise max_streams, or use 'evict-idle'.");
            }
            return kNoSlot;
        }
        std::uint32_t victim = 0;
        for (std::uint32_t i = 1; i < slots.size(); ++i) {
            if (slots[i].last_sequence < slots[victim].last_sequence) victim = i;
        }
        // The least recent stream has ticks in this pass only if every stream has.
        if (slots[victim].pending != 0) return kRunPassFirst;
        evict(victim);
    }
    const std::uint32_t slot = free_slots.back();
    free_slots.pop_back();
    start_stream(slot, stream);
    return static_cast<std::int32_t>(slot);
}

void StreamForecaster::Impl::start_stream(std::uint32_t index, std::uint32_t stream) {
    Slot& slot = slots[index];
    std::fill(slot.state.values.begin(), slot.state.values.end(), 0.0f);
    slot.features.reset();
    slot.readout.reset();
    slot.stream = stream;
    slot.live = true;
    slot.pending = 0;
    slot_of_stream[stream] = static_cast<std::int32_t>(index);
    ++stats.streams_started;
    ++stats.streams_live;
    if (options.state_dir.empty()) return;

    const std::filesystem::path path = state_path(stream);
    std::error_code error;
    if (!std::filesystem::exists(path, error)) return;
    try {
        read_forecast_state_file(model, stream_name(stream), path, slot.state.values,
                                 feature_floats, readout_floats);
        // Both checked before either is kept, so a bad readout cannot leave restored features.
        TickFeatures features = slot.features;
        if (!features.restore_state(feature_floats) || !slot.readout.restore_state(readout_floats)) {
            throw ForecastStateError(path.string(), "holds feature or readout values no stream "
                                                    "can have (flags, positions, limits): the "
                                                    "snapshot is corrupt. The stream starts "
                                                    "fresh.");
        }
        slot.features = std::move(features);
        ++stats.restored;
    } catch (const ForecastStateError& failure) {
        std::fill(slot.state.values.begin(), slot.state.values.end(), 0.0f);
        slot.features.reset();
        slot.readout.reset();
        ++stats.restore_failures;
        report(failure.what());
        // Kept aside: the next save would otherwise replace a state that took the right model a
        // long stream to build (a run started with the wrong model file, say).
        std::filesystem::path aside = path;
        aside += ".refused";
        std::filesystem::rename(path, aside, error);
        if (error) {
            report(path.string() + ": cannot move it to " + aside.string() + " (" + error.message() +
                   "); it is replaced when the stream is next saved");
        }
    }
}

bool StreamForecaster::Impl::save(const Slot& slot) {
    slot.features.save_state(feature_floats);
    slot.readout.save_state(readout_floats);
    const std::string name = stream_name(slot.stream);
    try {
        const std::vector<std::byte> bytes =
            encode_forecast_state(model, name, {slot.state.values, feature_floats, readout_floats});
        write_file_atomically(state_path(slot.stream), bytes);
        ++stats.saved;
        return true;
    } catch (const ForecastStateError& failure) {
        ++stats.save_failures;
        report(failure.what());
        return false;
    }
}

void StreamForecaster::Impl::evict(std::uint32_t index) {
    Slot& slot = slots[index];
    if (options.state_dir.empty() || !save(slot)) ++stats.evicted_dropped;
    ++stats.evicted;
    --stats.streams_live;
    slot_of_stream[slot.stream] = kNoSlot;
    slot.live = false;
    slot.last_sequence = 0;
    free_slots.push_back(index);
}

// The doc's order for each tick of one chunk of a round: adapt -> features for every stream,
// one batched model step, then head -> remember for every stream.
void StreamForecaster::Impl::work_on_chunk(std::span<const io::Tick> ticks, std::size_t chunk,
                                           std::size_t positions) noexcept {
    dsp::enable_flush_to_zero();  // every thread alike, so chunking never changes a bit
    const std::size_t size = std::min(options.chunk_streams, options.max_streams);
    const std::size_t begin = chunk * size;
    const std::size_t end = std::min(positions, begin + size);
    const std::size_t H = spec.horizon;
    for (std::size_t p = begin; p < end; ++p) {
        const io::Tick& tick = ticks[round_ticks[p]];
        Slot& slot = slots[static_cast<std::size_t>(tick_slot[round_ticks[p]])];
        slot.readout.adapt(tick.value);
        slot.features.step(tick.time_ns, tick.value, options.season,
                           std::span<float, kTickFeatureCount>(x.data() + p * kTickFeatureCount,
                                                               kTickFeatureCount));
        states[p] = &slot.state;
    }
    model.step_batch(std::span<models::StreamState* const>(states.data() + begin, end - begin),
                     workspaces[chunk],
                     std::span<const float>(x.data() + begin * kTickFeatureCount,
                                            (end - begin) * kTickFeatureCount),
                     std::span<float>(y.data() + begin * 3 * H, (end - begin) * 3 * H));
    const std::span<double> b(anchors.data() + chunk * H, H);
    for (std::size_t p = begin; p < end; ++p) {
        const std::uint32_t index = round_ticks[p];
        Slot& slot = slots[static_cast<std::size_t>(tick_slot[index])];
        if (!slot.features.has_last()) {
            slot.readout.skip();
            has_forecast[index] = 0;
            continue;
        }
        slot.features.anchors(options.season, b);
        float* q = out.data() + std::size_t{index} * 3 * emitted;
        slot.readout.forecast(std::span<const float>(y.data() + p * 3 * H, 3 * H), b,
                              slot.features.scale(), slot.features.season_usable(options.season),
                              {q, emitted}, {q + emitted, emitted}, {q + 2 * std::size_t{emitted}, emitted});
        has_forecast[index] = 1;
    }
}

void StreamForecaster::Impl::deliver(const io::Tick& tick, std::size_t index,
                                     ForecastCallback& on_forecast) {
    ++stats.ticks;
    if (!std::isfinite(tick.value)) ++stats.gaps;
    if (has_forecast[index] == 0) {
        ++stats.ticks_before_value;
        return;
    }
    ++stats.forecasts;
    const float* q = out.data() + index * 3 * emitted;
    on_forecast(Forecast{tick.stream, tick.time_ns, tick.value, {q, emitted}, {q + emitted, emitted},
                         {q + 2 * std::size_t{emitted}, emitted}});
}

void StreamForecaster::Impl::run_pass(std::span<const io::Tick> ticks, ForecastCallback& on_forecast) {
    // Rounds by counting sort: round r holds every stream's r-th tick of the pass, in input order.
    std::uint32_t rounds = 0;
    for (std::size_t i = 0; i < ticks.size(); ++i) {
        if (tick_slot[i] != kNoSlot) rounds = std::max(rounds, tick_round[i] + 1);
    }
    std::fill_n(round_begin.begin(), rounds + 1, 0u);
    for (std::size_t i = 0; i < ticks.size(); ++i) {
        if (tick_slot[i] != kNoSlot) ++round_begin[tick_round[i] + 1];
    }
    for (std::uint32_t r = 0; r < rounds; ++r) round_begin[r + 1] += round_begin[r];
    for (std::size_t i = 0; i < ticks.size(); ++i) {
        if (tick_slot[i] == kNoSlot) continue;
        by_round[round_begin[tick_round[i]]++] = static_cast<std::uint32_t>(i);
    }
    // round_begin[r] now holds round r's end; walk the rounds from the front.
    std::uint32_t begin = 0;
    const std::size_t chunk = std::min(options.chunk_streams, options.max_streams);
    for (std::uint32_t r = 0; r < rounds; ++r) {
        const std::uint32_t end = round_begin[r];
        const std::size_t positions = end - begin;
        std::copy(by_round.begin() + begin, by_round.begin() + end, round_ticks.begin());
        const std::size_t chunks = (positions + chunk - 1) / chunk;
        if (chunks == 1 || options.threads == 1) {
            for (std::size_t c = 0; c < chunks; ++c) work_on_chunk(ticks, c, positions);
        } else {
            // One task per chunk (simple_partitioner, grain 1): a chunk is already the unit
            // worth a task, and each chunk owns its workspace.
            arena->execute([&] {
                tbb::parallel_for(tbb::blocked_range<std::size_t>(0, chunks, 1),
                                  [&](const tbb::blocked_range<std::size_t>& range) {
                                      for (std::size_t c = range.begin(); c != range.end(); ++c) {
                                          work_on_chunk(ticks, c, positions);
                                      }
                                  },
                                  tbb::simple_partitioner());
            });
        }
        begin = end;
    }
    for (std::size_t i = 0; i < ticks.size(); ++i) {
        if (tick_slot[i] != kNoSlot) slots[static_cast<std::size_t>(tick_slot[i])].pending = 0;
    }
    for (std::size_t i = 0; i < ticks.size(); ++i) {
        if (tick_slot[i] != kNoSlot) deliver(ticks[i], i, on_forecast);
    }
}

void StreamForecaster::Impl::run_unbatched(const io::Tick& tick, std::int32_t slot,
                                           ForecastCallback& on_forecast) {
    tick_slot[0] = slot;
    round_ticks[0] = 0;
    work_on_chunk(std::span<const io::Tick>(&tick, 1), 0, 1);
    slots[static_cast<std::size_t>(slot)].pending = 0;
    deliver(tick, 0, on_forecast);
}

StreamForecaster::StreamForecaster(const models::SsmModel& model, const io::StreamIds& stream_ids,
                                   const ForecasterOptions& options)
    : impl_(std::make_unique<Impl>(model, stream_ids, options)) {}

StreamForecaster::~StreamForecaster() = default;

void StreamForecaster::process(std::span<const io::Tick> ticks, ForecastCallback on_forecast) {
    Impl& s = *impl_;
    dsp::enable_flush_to_zero();
    if (!s.options.batched) {
        for (const io::Tick& tick : ticks) {
            // Never kRunPassFirst: no tick waits in a pass here.
            const std::int32_t slot = s.acquire(tick.stream);
            if (slot < 0) continue;
            Slot& held = s.slots[static_cast<std::size_t>(slot)];
            held.last_sequence = ++s.sequence;
            held.last_time_ns = tick.time_ns;
            s.stats.newest_time_ns = std::max(s.stats.newest_time_ns, tick.time_ns);
            s.run_unbatched(tick, slot, on_forecast);
        }
        return;
    }
    std::size_t i = 0;
    while (i < ticks.size()) {
        const std::size_t pass_begin = i;
        std::size_t count = 0;
        while (i < ticks.size() && count < s.options.max_pass_ticks) {
            const io::Tick& tick = ticks[i];
            const std::int32_t slot = s.acquire(tick.stream);
            if (slot == kRunPassFirst) break;
            if (slot != kNoSlot) {
                Slot& held = s.slots[static_cast<std::size_t>(slot)];
                held.last_sequence = ++s.sequence;
                held.last_time_ns = tick.time_ns;
                s.stats.newest_time_ns = std::max(s.stats.newest_time_ns, tick.time_ns);
                s.tick_round[count] = held.pending++;
            }
            s.tick_slot[count] = slot;
            ++count;
            ++i;
        }
        if (count != 0) s.run_pass(ticks.subspan(pass_begin, count), on_forecast);
    }
}

std::size_t StreamForecaster::evict_idle_older_than(std::int64_t time_ns) {
    Impl& s = *impl_;
    std::size_t evicted = 0;
    for (std::uint32_t i = 0; i < s.slots.size(); ++i) {
        if (s.slots[i].live && s.slots[i].last_time_ns < time_ns) {
            s.evict(i);
            ++evicted;
        }
    }
    return evicted;
}

std::size_t StreamForecaster::save_all() {
    Impl& s = *impl_;
    if (s.options.state_dir.empty()) return 0;
    std::size_t written = 0;
    for (const Slot& slot : s.slots) {
        if (slot.live && s.save(slot)) ++written;
    }
    return written;
}

std::vector<std::string> StreamForecaster::take_messages() {
    std::vector<std::string> taken;
    taken.reserve(kMaxPendingMessages);
    taken.swap(impl_->messages);
    return taken;
}

const ForecasterStats& StreamForecaster::stats() const noexcept { return impl_->stats; }
std::uint32_t StreamForecaster::horizon() const noexcept { return impl_->emitted; }
std::uint32_t StreamForecaster::model_horizon() const noexcept { return impl_->spec.horizon; }
const ForecasterOptions& StreamForecaster::options() const noexcept { return impl_->options; }

bool StreamForecaster::is_live(std::uint32_t stream) const noexcept {
    return stream < impl_->slot_of_stream.size() && impl_->slot_of_stream[stream] != kNoSlot;
}

}  // namespace statestream::engine::forecast
