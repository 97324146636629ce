#include "bench/bench_transcribe.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "bench/pocketsphinx_baseline.hpp"
#include "bench/step_statistics.hpp"
#include "bench/timing.hpp"
#include "bench/transcriber_stream.hpp"
#include "engine/ctc_greedy_decoder.hpp"
#include "engine/io/audio_file.hpp"
#include "engine/transcribe_file.hpp"
#include "engine/transcript_sink.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"

namespace statestream::bench {

namespace {

// N live streams fit on one core while the mean CPU of a round (one step of every stream: 10 ms
// of audio for all of them) stays under this share of the 10 ms hop. The mean, because the live
// worker lets 200 ms of audio wait (transcribe's max_backlog_steps), so a slow round is caught
// up later and only the average load must stay under 100 %; the other 30 % is head-room for the
// rounds' jitter (the p99 column), the audio callback, the sink's printing and the VM's stalls,
// which CPU time does not see but which eat into the same 10 ms.
constexpr double kBudgetShare = 0.7;
// Silence fed after the file in the replay, beyond the endpoint, so the final can fire.
constexpr double kReplayTailSeconds = 0.3;
// A row's p99 rests on at least this many rounds, however short --seconds is.
constexpr std::size_t kMinRounds = 100;
// Untimed rounds first: fresh streams touch their state, FFT buffers and sink the first time.
constexpr std::size_t kWarmupRounds = 20;

BenchDecoder greedy_decoder() {
    return {"greedy", "greedy CTC (the best label per 10 ms frame)",
            [](const std::vector<std::string>& labels, double frame_s, double offset_s) {
                return std::make_unique<engine::CtcGreedyDecoder>(labels, frame_s, offset_s);
            }};
}

struct Input {
    std::filesystem::path path;
    std::uint32_t rate_hz = 0;
    std::vector<float> samples;  // mono
    [[nodiscard]] double seconds() const { return static_cast<double>(samples.size()) / rate_hz; }
};

Input read_input(const std::filesystem::path& path) {
    engine::AudioFileReader reader(path);
    Input input{path, reader.format().rate_hz, {}};
    std::vector<float> block(4096);
    while (const std::size_t got = reader.read_mono(block)) {
        input.samples.insert(input.samples.end(), block.begin(), block.begin() + static_cast<std::ptrdiff_t>(got));
    }
    if (input.samples.size() < input.rate_hz / 50) {
        throw engine::AudioFileError(fmt::format(
            "'{}': under 20 ms of audio; give --input a speech file of a few seconds", path.string()));
    }
    return input;
}

// What the live transcript sink emitted while the file was replayed through it. at_s: seconds
// of input audio when the step that fired the event had its whole hop (the resampler's delay
// is inside it; add the step's compute for wall-clock).
struct ReplayEvent {
    bool final = false;
    double at_s = 0.0;
    std::string text;
    std::vector<engine::TimedWord> words;  // finals only
    bool at_end = false;                   // a final closed by the end of the input, not the endpoint
};

struct Replay {
    std::string decoder;  // CtcDecoder::name() of the search that ran
    std::vector<ReplayEvent> events;
    [[nodiscard]] const ReplayEvent* first_partial() const {
        const auto it = std::find_if(events.begin(), events.end(), [](const auto& e) { return !e.final; });
        return it == events.end() ? nullptr : &*it;
    }
    [[nodiscard]] std::string text() const {
        std::string text;
        for (const auto& e : events) {
            if (e.final) text += (text.empty() ? "" : " ") + e.text;
        }
        return text;
    }
};

nlohmann::json event_json(const ReplayEvent& event, const std::string& decoder) {
    nlohmann::json line = {{"type", event.final ? "final" : "partial"}, {"at_s", event.at_s},
                           {"text", event.text}, {"decoder", decoder}};
    if (event.final) {
        nlohmann::json words = nlohmann::json::array();
        for (const auto& word : event.words) {
            words.push_back({{"word", word.text}, {"start", word.start_s}, {"end", word.end_s}});
        }
        line["words"] = words;
        line["at_end_of_input"] = event.at_end;
    }
    return line;
}

nlohmann::json json_us(const StepStatistics& d) {
    return {{"mean", d.mean_ns() / 1e3}, {"p50", d.quantile_ns(0.5) / 1e3}, {"p90", d.quantile_ns(0.9) / 1e3},
            {"p99", d.quantile_ns(0.99) / 1e3}, {"max", d.max_ns() / 1e3}, {"count", d.count()}};
}

// The whole chain with one decoder, every step timed.
struct ChainResult {
    std::string decoder, description;
    StepStatistics total, frontend, model, decoding;
    double audio_seconds = 0.0;
    [[nodiscard]] double rtf() const { return total.sum_ns() * 1e-9 / audio_seconds; }
    [[nodiscard]] nlohmann::json json() const {
        return {{"decoder", decoder}, {"description", description}, {"rtf", rtf()}, {"rtfx", 1.0 / rtf()},
                {"audio_seconds", audio_seconds}, {"step_us", json_us(total)},
                {"frontend_us", json_us(frontend)}, {"model_us", json_us(model)},
                {"decoder_us", json_us(decoding)}};
    }
};

struct StreamsRow {
    std::size_t streams = 0;
    StepStatistics step, round;
    bool fits = false;
};

// The file through one stream and the live sink, with silence after it so the endpoint fires;
// untimed (it also warms the caches and the model's pages).
Replay replay(const models::SsmModel& model, const Input& input, double endpoint_seconds,
              const BenchDecoder& decoder) {
    Replay result{decoder.name, {}};
    double at_s = 0.0;
    std::vector<float> signal = input.samples;
    const double tail = endpoint_seconds + kReplayTailSeconds;
    signal.resize(signal.size() + static_cast<std::size_t>(std::ceil(tail * input.rate_hz)) + input.rate_hz / 50,
                  0.0f);
    engine::TranscriptEvents events;
    events.partial = [&](const std::string& text) { result.events.push_back({false, at_s, text, {}, false}); };
    events.final = [&](const std::vector<engine::TimedWord>& words) {
        std::string text;
        for (const auto& word : words) text += (text.empty() ? "" : " ") + word.text;
        result.events.push_back({true, at_s, text, words, false});
    };
    TranscriberStream stream(model, input.rate_hz, endpoint_seconds, decoder.make, std::move(events), 0);
    models::ModelWorkspace workspace(model, 1);
    for (std::size_t k = 0; stream.input_end(k) <= signal.size(); ++k) {
        at_s = static_cast<double>(stream.input_end(k)) / input.rate_hz;
        (void)stream.step(signal, workspace);
    }
    const std::size_t before = result.events.size();
    at_s = static_cast<double>(signal.size()) / input.rate_hz;
    stream.sink().finish();
    if (result.events.size() > before) result.events.back().at_end = true;
    return result;
}

// The file through a fresh stream per pass (no silence after it), every step timed, until
// `seconds` of CPU; at least one pass. RTF counts the file's audio only.
ChainResult time_chain(const models::SsmModel& model, const Input& input, double endpoint_seconds,
                       double seconds, const BenchDecoder& decoder) {
    ChainResult result{decoder.name, decoder.description, {}, {}, {}, {}, 0.0};
    models::ModelWorkspace workspace(model, 1);
    double spent = 0.0;
    do {
        TranscriberStream stream(model, input.rate_hz, endpoint_seconds, decoder.make, {}, 0);
        std::size_t steps = 0;
        while (stream.input_end(steps) <= input.samples.size()) {
            const StepParts parts = stream.step(input.samples, workspace);
            result.total.add(parts.total());
            result.frontend.add(parts.frontend_ns);
            result.model.add(parts.model_ns);
            result.decoding.add(parts.decoder_ns);
            spent += parts.total();
            ++steps;
        }
        result.audio_seconds += static_cast<double>(stream.input_end(steps - 1)) / input.rate_hz;
    } while (spent < seconds * 1e9);
    for (StepStatistics* d : {&result.total, &result.frontend, &result.model, &result.decoding}) d->finish();
    return result;
}

StreamsRow time_streams(const models::SsmModel& model, const Input& input, double endpoint_seconds,
                        const BenchDecoder& decoder, std::size_t n, double seconds, double hop_ns) {
    StreamsRow row;
    row.streams = n;
    std::vector<std::unique_ptr<TranscriberStream>> streams;
    for (std::size_t i = 0; i < n; ++i) {
        // Each from its own place in the file, so the streams do not say the same thing at once.
        streams.push_back(std::make_unique<TranscriberStream>(model, input.rate_hz, endpoint_seconds, decoder.make,
                                                              engine::TranscriptEvents{},
                                                              i * input.samples.size() / n));
    }
    models::ModelWorkspace workspace(model, 1);
    for (std::size_t r = 0; r < kWarmupRounds; ++r) {
        for (auto& stream : streams) (void)stream->step(input.samples, workspace);
    }
    double spent = 0.0;
    while (spent < seconds * 1e9 || row.round.count() < kMinRounds) {
        double round = 0.0;
        for (auto& stream : streams) {
            const double ns = stream->step(input.samples, workspace).total();
            row.step.add(ns);
            round += ns;
        }
        row.round.add(round);
        spent += round;
    }
    row.step.finish();
    row.round.finish();
    row.fits = row.round.mean_ns() <= kBudgetShare * hop_ns;
    return row;
}

// Doubles N until a round's mean is over the hop (or max_streams), then bisects between the
// largest N that fits and the smallest that does not.
std::vector<StreamsRow> search_streams(const models::SsmModel& model, const Input& input,
                                       double endpoint_seconds, const BenchDecoder& decoder,
                                       std::size_t max_streams, double seconds, double hop_ns) {
    std::vector<StreamsRow> rows;
    std::size_t fits = 0, fails = 0;
    for (std::size_t n = 1; n <= max_streams; n *= 2) {
        rows.push_back(time_streams(model, input, endpoint_seconds, decoder, n, seconds, hop_ns));
        if (rows.back().fits) fits = n;
        else if (fails == 0) fails = n;
        if (rows.back().round.mean_ns() > hop_ns) break;
    }
    while (fits > 0 && fails > fits + 1) {
        const std::size_t mid = (fits + fails) / 2;
        rows.push_back(time_streams(model, input, endpoint_seconds, decoder, mid, seconds, hop_ns));
        (rows.back().fits ? fits : fails) = mid;
    }
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.streams < b.streams; });
    return rows;
}

// Everything one run measured, for either report.
struct Results {
    std::filesystem::path input_path;
    double input_seconds = 0.0;
    std::uint32_t input_rate_hz = 0;
    bool resampled = false;
    double hop_s = 0.0, window_s = 0.0, resampler_s = 0.0;
    Replay live;                       // with the default decoder
    std::vector<ChainResult> chains;   // the default decoder first, then greedy unless it is greedy
    PocketsphinxResult baseline;
    std::vector<StreamsRow> rows;      // with the default decoder
    std::size_t max_fit = 0;
    [[nodiscard]] double algorithmic_s() const { return hop_s + resampler_s; }  // look-ahead 0
};

void print_json(const TranscribeBenchOptions& options, const models::ModelFile& file,
                const models::SsmModel& model, const Results& r) {
    const double hop_ns = r.hop_s * 1e9;
    nlohmann::json streams = nlohmann::json::array();
    for (const auto& row : r.rows) {
        streams.push_back({{"streams", row.streams}, {"step_us", json_us(row.step)}, {"round_us", json_us(row.round)},
                           {"round_mean_share_of_hop", row.round.mean_ns() / hop_ns}, {"fits", row.fits}});
    }
    nlohmann::json finals = nlohmann::json::array();
    for (const auto& event : r.live.events) {
        if (event.final) finals.push_back(event_json(event, r.live.decoder));
    }
    nlohmann::json chains = nlohmann::json::object();
    for (const auto& chain : r.chains) chains[chain.decoder] = chain.json();
    const ReplayEvent* first = r.live.first_partial();
    const ChainResult& chain = r.chains.front();
    nlohmann::json doc = {
        {"schema", "statestream.bench.transcribe/2"},
        {"clock", "CPU time of the bench's thread (CLOCK_THREAD_CPUTIME_ID), pinned to one core; "
                  "the VM's scheduling stalls are not counted"},
        {"model", {{"path", options.model_path}, {"parameters", file.parameter_count()},
                   {"layers", model.architecture().layers.size()}, {"d_model", model.architecture().d_model}}},
        {"input", {{"path", r.input_path.string()}, {"rate_hz", r.input_rate_hz}, {"seconds", r.input_seconds}}},
        {"decoder", {{"name", chain.decoder}, {"description", chain.description}}},
        {"latency", {{"hop_ms", r.hop_s * 1e3}, {"window_ms", r.window_s * 1e3}, {"lookahead_ms", 0.0},
                     {"resampler_ms", r.resampler_s * 1e3}, {"algorithmic_ms", r.algorithmic_s() * 1e3}}},
        {"chain", chain.json()},
        {"chains", chains},
        {"replay", {{"decoder", r.live.decoder}, {"endpoint_s", options.endpoint_seconds},
                    {"first_partial", first ? event_json(*first, r.live.decoder) : nlohmann::json()},
                    {"finals", finals}, {"text", r.live.text()}}},
        {"streams", {{"decoder", chain.decoder}, {"budget_share", kBudgetShare}, {"rows", streams},
                     {"max_streams_fit", r.max_fit}}},
    };
    const PocketsphinxResult& ps = r.baseline;
    if (ps.ran) {
        doc["baseline"] = {{"name", ps.name}, {"rtf", ps.rtf()}, {"rtfx", 1.0 / ps.rtf()},
                           {"chunk_us", json_us(ps.chunk)}, {"end_utt_us", json_us(ps.end_utt)},
                           {"text", ps.hypothesis}, {"rtf_ratio_to_ours", ps.rtf() / chain.rtf()}};
    } else {
        doc["baseline"] = {{"name", nullptr}, {"why_not", ps.why_not}};
    }
    fmt::print("{}\n", doc.dump(1));
}

void print_row(const std::string& name, const StepStatistics& d, const std::string& rtf, const std::string& versus) {
    fmt::print("| {:<46} | {:>8.1f} | {:>8.1f} | {:>8.1f} | {:>8.1f} | {:>8.1f} | {:>15} | {:>9} |\n", name,
               d.mean_ns() / 1e3, d.quantile_ns(0.5) / 1e3, d.quantile_ns(0.9) / 1e3, d.quantile_ns(0.99) / 1e3,
               d.max_ns() / 1e3, rtf, versus);
}

void print_tables(const TranscribeBenchOptions& options, const models::ModelFile& file,
                  const models::SsmModel& model, const Results& r) {
    const double hop_ns = r.hop_s * 1e9;
    const ChainResult& ours = r.chains.front();
    fmt::print("transcriber: {} ({} parameters, {} layers, d_model {})\n", options.model_path,
               file.parameter_count(), model.architecture().layers.size(), model.architecture().d_model);
    fmt::print("default decoder: {}\n", ours.description);
    fmt::print("input: {} ({:.2f} s at {} Hz; read into memory before timing)\n", r.input_path.string(),
               r.input_seconds, r.input_rate_hz);
    fmt::print("one thread pinned to one core; CPU time of that thread (CLOCK_THREAD_CPUTIME_ID), not "
               "wall time: this VM stalls threads for 1-7 ms at times, which wall-clock percentiles "
               "would count as ours. {:.1f} s of CPU per case.\n\n", options.seconds_per_case);

    fmt::print("algorithmic latency: {:.1f} ms = hop {:.1f} ms (a step needs its whole hop) + look-ahead "
               "0 ms (the {:.1f} ms window ends at the hop's last sample and reaches {:.1f} ms back; the "
               "model is causal){}\n\n", r.algorithmic_s() * 1e3, r.hop_s * 1e3, r.window_s * 1e3,
               (r.window_s - r.hop_s) * 1e3,
               r.resampler_s > 0.0 ? fmt::format(" + resampler {:.2f} ms", r.resampler_s * 1e3) : std::string());

    fmt::print("| {:<46} | {:>8} | {:>8} | {:>8} | {:>8} | {:>8} | {:>15} | {:>9} |\n", "CPU per 10 ms of audio",
               "mean us", "p50 us", "p90 us", "p99 us", "max us", "RTF (RTFx)", "CPU/ours");
    fmt::print("|{:-<48}|{:->10}|{:->10}|{:->10}|{:->10}|{:->10}|{:->17}|{:->11}|\n", "", "", "", "", "", "",
               "", "");
    const auto rtf_text = [](double rtf) { return fmt::format("{:.4f} ({:.0f})", rtf, 1.0 / rtf); };
    for (const ChainResult& chain : r.chains) {
        // Each chain's CPU per audio second over the default chain's.
        print_row(fmt::format("statestream, {}: whole chain, one step", chain.decoder), chain.total,
                  rtf_text(chain.rtf()), fmt::format("{:.2f}x", chain.rtf() / ours.rtf()));
        if (&chain == &ours) {  // the front-end and the model do the same work under any decoder
            print_row(r.resampled ? "  front-end (resample + log-mel)" : "  front-end (log-mel)", chain.frontend,
                      "", "");
            print_row("  model step", chain.model, "", "");
        }
        print_row(fmt::format("  decoder ({}, live transcript sink)", chain.decoder), chain.decoding, "", "");
    }
    const PocketsphinxResult& ps = r.baseline;
    if (ps.ran) {
        print_row("pocketsphinx: ps_process_raw of 10 ms", ps.chunk, rtf_text(ps.rtf()),
                  fmt::format("{:.1f}x", ps.rtf() / ours.rtf()));
        fmt::print("\npocketsphinx (en-us acoustic model, default US English LM, CMU dictionary) on the same "
                   "audio: RTF {:.4f}, RTFx {:.1f}, including ps_end_utt's final passes ({:.1f} ms per file); "
                   "statestream's RTF ({}) is {:.1f}x lower.\n", ps.rtf(), 1.0 / ps.rtf(),
                   ps.end_utt.mean_ns() / 1e6, ours.decoder, ps.rtf() / ours.rtf());
        fmt::print("  pocketsphinx: \"{}\"\n", ps.hypothesis);
    } else {
        fmt::print("\n(no baseline: {})\n", ps.why_not);
    }
    fmt::print("  statestream ({}): \"{}\"\n\n", r.live.decoder, r.live.text());

    const ReplayEvent* first = r.live.first_partial();
    fmt::print("live transcript sink ({}) replayed on the file (endpoint {:.2f} s), in seconds of input audio "
               "when the step's hop was complete (add the step's compute for wall-clock): first partial {}",
               r.live.decoder, options.endpoint_seconds,
               first ? fmt::format("at {:.2f} s (\"{}\")", first->at_s, first->text) : std::string("never"));
    for (const auto& event : r.live.events) {
        if (!event.final) continue;
        fmt::print("; final at {:.2f} s{} (its last word ends at {:.2f} s)", event.at_s,
                   event.at_end ? " (end of input)" : "", event.words.back().end_s);
    }
    fmt::print("\n\n");

    fmt::print("live streams on one core ({} decoder): N streams, each with its own front-end, state, decoder "
               "and sink, stepped round-robin on one thread; a round is 10 ms of audio for all N. N fits while "
               "the round's mean CPU is at most {:.0f} % of {:.0f} ms (the live worker lets 200 ms of audio "
               "wait, so slow rounds are caught up; the rest is margin for jitter, capture and the VM).\n\n",
               ours.decoder, kBudgetShare * 100, r.hop_s * 1e3);
    fmt::print("| {:>7} | {:>11} | {:>11} | {:>13} | {:>12} | {:>12} | {:>13} | {:>4} |\n", "streams",
               "step p50 us", "step p99 us", "round mean ms", "round p50 ms", "round p99 ms", "mean / 10 ms",
               "fits");
    fmt::print("|{:->9}|{:->13}|{:->13}|{:->15}|{:->14}|{:->14}|{:->15}|{:->6}|\n", "", "", "", "", "", "", "",
               "");
    for (const auto& row : r.rows) {
        fmt::print("| {:>7} | {:>11.1f} | {:>11.1f} | {:>13.2f} | {:>12.2f} | {:>12.2f} | {:>12.0f}% | {:>4} |\n",
                   row.streams, row.step.quantile_ns(0.5) / 1e3, row.step.quantile_ns(0.99) / 1e3,
                   row.round.mean_ns() / 1e6, row.round.quantile_ns(0.5) / 1e6, row.round.quantile_ns(0.99) / 1e6,
                   100.0 * row.round.mean_ns() / hop_ns, row.fits ? "yes" : "no");
    }
    fmt::print("\nlive streams per core ({}): {} (largest N measured whose mean round stays within {:.0f} % of "
               "the {:.0f} ms budget); the whole-chain mean step alone would allow {:.0f} at 100 %.\n",
               ours.decoder, r.max_fit, kBudgetShare * 100, r.hop_s * 1e3, std::floor(hop_ns / ours.total.mean_ns()));
}

}  // namespace

int run_transcribe_bench(const TranscribeBenchOptions& options) {
    pin_to_current_core();
    const models::ModelFile file = models::ModelFile::load(options.model_path);
    const models::SsmModel model(file);
    engine::require_transcriber_model(model);
    const BenchDecoder decoder = options.choose_decoder ? options.choose_decoder(model) : greedy_decoder();
    const auto& frontend = file.description().frontend;
    Results r;
    r.input_path = options.input_path.empty()
                       ? std::filesystem::path(STATESTREAM_SOURCE_DIR) / "data" / "audio" / "speech_16k.wav"
                       : std::filesystem::path(options.input_path);
    const Input input = read_input(r.input_path);
    r.input_seconds = input.seconds();
    r.input_rate_hz = input.rate_hz;
    r.resampled = input.rate_hz != frontend.sample_rate_hz;
    r.hop_s = static_cast<double>(frontend.hop_samples) / frontend.sample_rate_hz;
    r.window_s = static_cast<double>(frontend.window_samples) / frontend.sample_rate_hz;

    r.live = replay(model, input, options.endpoint_seconds, decoder);
    if (options.replay_only) {
        for (const auto& event : r.live.events) fmt::print("{}\n", event_json(event, r.live.decoder).dump());
        return 0;
    }
    r.resampler_s = TranscriberStream(model, input.rate_hz, options.endpoint_seconds, decoder.make, {}, 0)
                        .resampler_delay_seconds();
    r.chains.push_back(time_chain(model, input, options.endpoint_seconds, options.seconds_per_case, decoder));
    if (decoder.name != "greedy") {
        r.chains.push_back(
            time_chain(model, input, options.endpoint_seconds, options.seconds_per_case, greedy_decoder()));
    }
    r.baseline = time_pocketsphinx(input.samples, input.rate_hz, options.seconds_per_case);
    r.rows = search_streams(model, input, options.endpoint_seconds, decoder, options.max_streams,
                            options.seconds_per_case, r.hop_s * 1e9);
    for (const auto& row : r.rows) {
        if (row.fits) r.max_fit = std::max(r.max_fit, row.streams);
    }
    if (options.json) print_json(options, file, model, r);
    else print_tables(options, file, model, r);
    return 0;
}

}  // namespace statestream::bench
