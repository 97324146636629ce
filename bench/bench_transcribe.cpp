#include "bench/bench_transcribe.hpp"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <numeric>
#include <span>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "bench/timing.hpp"
#include "dsp/log_mel_frontend.hpp"
#include "dsp/stream_resampler.hpp"
#include "engine/io/audio_file.hpp"
#include "engine/transcribe_file.hpp"
#include "engine/transcript_sink.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"

#if STATESTREAM_HAVE_POCKETSPHINX
#include <pocketsphinx.h>
#endif

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

struct Distribution {
    std::vector<double> ns;  // sorted by finish()
    void finish() { std::sort(ns.begin(), ns.end()); }
    [[nodiscard]] double at(double quantile) const {
        return ns.empty() ? 0.0
                          : ns[std::min(ns.size() - 1, static_cast<std::size_t>(quantile * ns.size()))];
    }
    [[nodiscard]] double sum() const { return std::accumulate(ns.begin(), ns.end(), 0.0); }
    [[nodiscard]] double mean() const { return ns.empty() ? 0.0 : sum() / static_cast<double>(ns.size()); }
    [[nodiscard]] double max() const { return ns.empty() ? 0.0 : ns.back(); }
    [[nodiscard]] nlohmann::json json_us() const {
        return {{"mean", mean() / 1e3}, {"p50", at(0.5) / 1e3}, {"p90", at(0.9) / 1e3},
                {"p99", at(0.99) / 1e3}, {"max", max() / 1e3}, {"count", ns.size()}};
    }
};

struct StepParts {
    double frontend_ns = 0.0;  // resampling (if any) and log-mel
    double model_ns = 0.0;     // the SSM stack's step
    double decoder_ns = 0.0;   // greedy CTC in the live transcript sink, with its events
    [[nodiscard]] double total() const { return frontend_ns + model_ns + decoder_ns; }
};

// One live transcription stream as the live chain runs it (resample -> log-mel -> model step ->
// transcript sink), with its own resampler, front-end, state and sink; the weights and the
// workspace are shared. It reads its input from a signal it loops over, from its own offset.
class TranscriberStream {
public:
    // Thread: setup (allocates, plans the FFT).
    TranscriberStream(const models::SsmModel& model, std::uint32_t input_rate_hz,
                      double endpoint_seconds, engine::TranscriptEvents events, std::size_t offset)
        : model_(model),
          frontend_(model.file().description().frontend),
          input_rate_(input_rate_hz),
          offset_(offset),
          features_({static_cast<double>(frontend_.sample_rate_hz), frontend_.window_samples,
                     frontend_.hop_samples, frontend_.n_bands}),
          state_(model.make_state()),
          mel_(frontend_.n_bands),
          scores_(model.output_dim()),
          input_(input_end(0) + 1) {
        if (input_rate_ != frontend_.sample_rate_hz) {
            resampler_ = std::make_unique<dsp::StreamResampler>(dsp::ResamplerConfig{
                input_rate_, frontend_.sample_rate_hz, dsp::ResamplerQuality::kMedium, input_.size()});
            resampled_.resize(resampler_->max_output_samples(input_.size()));
        }
        pending_.reserve(4 * (frontend_.hop_samples + resampled_.size()));
        const double hop_seconds = static_cast<double>(frontend_.hop_samples) / frontend_.sample_rate_hz;
        sink_ = std::make_unique<engine::TranscriptSink>(model.file().description().labels, hop_seconds,
                                                         resampler_delay_seconds(), endpoint_seconds,
                                                         std::move(events));
    }

    // Input samples (at the input rate) step `k` needs in all: its hop at the model's rate
    // ends at (k + 1) * hop model-rate samples.
    [[nodiscard]] std::size_t input_end(std::size_t k) const {
        const std::uint64_t model_samples = (k + 1) * std::uint64_t{frontend_.hop_samples};
        return static_cast<std::size_t>((model_samples * input_rate_ + frontend_.sample_rate_hz - 1) /
                                        frontend_.sample_rate_hz);
    }
    [[nodiscard]] double resampler_delay_seconds() const {
        return resampler_ ? static_cast<double>(resampler_->latency_samples()) / frontend_.sample_rate_hz
                          : 0.0;
    }
    engine::TranscriptSink& sink() { return *sink_; }

    // Thread: the bench's. One step: feeds what the next hop needs from `signal`, runs it.
    StepParts step(std::span<const float> signal, models::ModelWorkspace& workspace) {
        StepParts parts;
        const double t0 = thread_cpu_ns();
        const std::size_t need = input_end(steps_) - consumed_;
        for (std::size_t i = 0; i < need; ++i) input_[i] = signal[(offset_ + consumed_ + i) % signal.size()];
        consumed_ += need;
        const auto fresh = std::span<const float>(input_).first(need);
        if (resampler_) {
            const std::size_t made = resampler_->process(fresh, resampled_);
            pending_.insert(pending_.end(), resampled_.begin(),
                            resampled_.begin() + static_cast<std::ptrdiff_t>(made));
        } else {
            pending_.insert(pending_.end(), fresh.begin(), fresh.end());
        }
        features_.process(std::span<const float>(pending_).first(frontend_.hop_samples), mel_);
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(frontend_.hop_samples));
        const double t1 = thread_cpu_ns();
        model_.step(state_, workspace, mel_, scores_);
        const double t2 = thread_cpu_ns();
        // Live, the sink decodes on the pool thread; here it runs on this one, which is what it
        // costs the core. The timed runs give it no event callbacks (nothing is printed).
        sink_->write(scores_);
        const double t3 = thread_cpu_ns();
        ++steps_;
        parts.frontend_ns = t1 - t0;
        parts.model_ns = t2 - t1;
        parts.decoder_ns = t3 - t2;
        return parts;
    }

private:
    const models::SsmModel& model_;
    const models::FrontendSpec& frontend_;
    std::uint32_t input_rate_;
    std::size_t offset_;
    std::unique_ptr<dsp::StreamResampler> resampler_;
    dsp::LogMelFrontend features_;
    models::StreamState state_;
    std::unique_ptr<engine::TranscriptSink> sink_;
    std::vector<float> mel_, scores_, input_, resampled_, pending_;
    std::size_t consumed_ = 0;  // input samples taken from the signal
    std::size_t steps_ = 0;
};

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

nlohmann::json words_json(const std::vector<engine::TimedWord>& words) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& word : words) {
        list.push_back({{"word", word.text}, {"start", word.start_s}, {"end", word.end_s}});
    }
    return list;
}

nlohmann::json event_json(const ReplayEvent& event) {
    nlohmann::json line = {{"type", event.final ? "final" : "partial"}, {"at_s", event.at_s},
                           {"text", event.text}};
    if (event.final) {
        line["words"] = words_json(event.words);
        line["at_end_of_input"] = event.at_end;
    }
    return line;
}

struct ChainResult {
    Distribution total, frontend, model, decoder;
    double audio_seconds = 0.0;
    [[nodiscard]] double rtf() const { return total.sum() * 1e-9 / audio_seconds; }
};

struct StreamsRow {
    std::size_t streams = 0;
    Distribution step, round;
    bool fits = false;
};

struct Baseline {
    bool ran = false;
    std::string name, why_not, hypothesis;
    Distribution chunk;     // ps_process_raw of 10 ms
    Distribution end_utt;   // ps_end_utt per pass (the final search passes)
    double cpu_seconds = 0.0, audio_seconds = 0.0;
    [[nodiscard]] double rtf() const { return cpu_seconds / audio_seconds; }
};

void pin_to_current_core() {
    const int cpu = sched_getcpu();
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)sched_setaffinity(0, sizeof set, &set);
}

// The file through one stream and the live sink, with silence after it so the endpoint fires;
// untimed (it also warms the caches and the model's pages).
Replay replay(const models::SsmModel& model, const Input& input, double endpoint_seconds) {
    Replay result;
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
    TranscriberStream stream(model, input.rate_hz, endpoint_seconds, std::move(events), 0);
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
                       double seconds) {
    ChainResult result;
    models::ModelWorkspace workspace(model, 1);
    double spent = 0.0;
    do {
        TranscriberStream stream(model, input.rate_hz, endpoint_seconds, {}, 0);
        std::size_t steps = 0;
        while (stream.input_end(steps) <= input.samples.size()) {
            const StepParts parts = stream.step(input.samples, workspace);
            result.total.ns.push_back(parts.total());
            result.frontend.ns.push_back(parts.frontend_ns);
            result.model.ns.push_back(parts.model_ns);
            result.decoder.ns.push_back(parts.decoder_ns);
            spent += parts.total();
            ++steps;
        }
        result.audio_seconds += static_cast<double>(stream.input_end(steps - 1)) / input.rate_hz;
    } while (spent < seconds * 1e9);
    for (Distribution* d : {&result.total, &result.frontend, &result.model, &result.decoder}) d->finish();
    return result;
}

StreamsRow time_streams(const models::SsmModel& model, const Input& input, double endpoint_seconds,
                        std::size_t n, double seconds, double hop_ns) {
    StreamsRow row;
    row.streams = n;
    std::vector<std::unique_ptr<TranscriberStream>> streams;
    for (std::size_t i = 0; i < n; ++i) {
        // Each from its own place in the file, so the streams do not say the same thing at once.
        streams.push_back(std::make_unique<TranscriberStream>(model, input.rate_hz, endpoint_seconds,
                                                              engine::TranscriptEvents{},
                                                              i * input.samples.size() / n));
    }
    models::ModelWorkspace workspace(model, 1);
    for (std::size_t r = 0; r < kWarmupRounds; ++r) {
        for (auto& stream : streams) (void)stream->step(input.samples, workspace);
    }
    double spent = 0.0;
    while (spent < seconds * 1e9 || row.round.ns.size() < kMinRounds) {
        double round = 0.0;
        for (auto& stream : streams) {
            const double ns = stream->step(input.samples, workspace).total();
            row.step.ns.push_back(ns);
            round += ns;
        }
        row.round.ns.push_back(round);
        spent += round;
    }
    row.step.finish();
    row.round.finish();
    row.fits = row.round.mean() <= kBudgetShare * hop_ns;
    return row;
}

// Doubles N until a round's mean is over the hop (or max_streams), then bisects between the
// largest N that fits and the smallest that does not.
std::vector<StreamsRow> search_streams(const models::SsmModel& model, const Input& input,
                                       double endpoint_seconds, std::size_t max_streams,
                                       double seconds, double hop_ns) {
    std::vector<StreamsRow> rows;
    std::size_t fits = 0, fails = 0;
    for (std::size_t n = 1; n <= max_streams; n *= 2) {
        rows.push_back(time_streams(model, input, endpoint_seconds, n, seconds, hop_ns));
        if (rows.back().fits) fits = n;
        else if (fails == 0) fails = n;
        if (rows.back().round.mean() > hop_ns) break;
    }
    while (fits > 0 && fails > fits + 1) {
        const std::size_t mid = (fits + fails) / 2;
        rows.push_back(time_streams(model, input, endpoint_seconds, mid, seconds, hop_ns));
        (rows.back().fits ? fits : fails) = mid;
    }
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.streams < b.streams; });
    return rows;
}

#if STATESTREAM_HAVE_POCKETSPHINX
// pocketsphinx with its en-us acoustic model, default US English LM and CMU dictionary (every
// other setting its default, as models/train/asr/pocketsphinx_baseline.py runs it), fed the
// same audio at 16 kHz in 10 ms chunks as a live decoder would be.
Baseline time_pocketsphinx(const Input& input, double seconds) {
    Baseline result;
    result.name = "pocketsphinx 5prealpha, en-us, default LM";
    const std::filesystem::path dir = std::filesystem::path(STATESTREAM_POCKETSPHINX_MODEL_DIR) / "en-us";
    const auto hmm = (dir / "en-us").string(), lm = (dir / "en-us.lm.bin").string(),
               dict = (dir / "cmudict-en-us.dict").string();
    if (!std::filesystem::is_directory(hmm)) {
        result.why_not = fmt::format("{}: pocketsphinx's en-us model is missing; install the Debian "
                                     "package pocketsphinx-en-us", hmm);
        return result;
    }
    std::vector<float> audio16 = input.samples;
    if (input.rate_hz != 16000) {  // outside the timing: only the decoding is measured
        dsp::StreamResampler resampler({input.rate_hz, 16000, dsp::ResamplerQuality::kBest, 4096});
        std::vector<float> out(resampler.max_output_samples(4096));
        audio16.clear();
        std::vector<float> padded = input.samples;
        padded.resize(padded.size() + input.rate_hz / 10, 0.0f);
        for (std::size_t at = 0; at < padded.size(); at += 4096) {
            const std::size_t n = std::min<std::size_t>(4096, padded.size() - at);
            const std::size_t made = resampler.process(std::span<const float>(padded).subspan(at, n), out);
            audio16.insert(audio16.end(), out.begin(), out.begin() + static_cast<std::ptrdiff_t>(made));
        }
        audio16.erase(audio16.begin(), audio16.begin() + static_cast<std::ptrdiff_t>(resampler.latency_samples()));
        audio16.resize(static_cast<std::size_t>(input.seconds() * 16000));
    }
    std::vector<int16> pcm(audio16.size());
    for (std::size_t i = 0; i < pcm.size(); ++i) {
        pcm[i] = static_cast<int16>(std::lround(std::clamp(audio16[i], -1.0f, 32767.0f / 32768.0f) * 32768.0f));
    }
    cmd_ln_t* config = cmd_ln_init(nullptr, ps_args(), TRUE, "-hmm", hmm.c_str(), "-lm", lm.c_str(),
                                   "-dict", dict.c_str(), "-logfn", "/dev/null",
                                   static_cast<const char*>(nullptr));
    ps_decoder_t* decoder = config ? ps_init(config) : nullptr;
    if (decoder == nullptr) {
        result.why_not = fmt::format("pocketsphinx could not load its model from {}", dir.string());
        if (config) cmd_ln_free_r(config);
        return result;
    }
    constexpr std::size_t kChunk = 160;  // 10 ms at 16 kHz
    double spent = 0.0;
    do {
        const double start = thread_cpu_ns();
        ps_start_utt(decoder);
        for (std::size_t at = 0; at < pcm.size(); at += kChunk) {
            const std::size_t n = std::min(kChunk, pcm.size() - at);
            const double t0 = thread_cpu_ns();
            ps_process_raw(decoder, pcm.data() + at, n, FALSE, FALSE);
            result.chunk.ns.push_back(thread_cpu_ns() - t0);
        }
        const double t0 = thread_cpu_ns();
        ps_end_utt(decoder);
        result.end_utt.ns.push_back(thread_cpu_ns() - t0);
        const double pass = thread_cpu_ns() - start;
        int32 score = 0;
        const char* hypothesis = ps_get_hyp(decoder, &score);
        result.hypothesis = hypothesis ? hypothesis : "";
        spent += pass;
        result.cpu_seconds += pass * 1e-9;
        result.audio_seconds += static_cast<double>(pcm.size()) / 16000.0;
    } while (spent < seconds * 1e9);
    ps_free(decoder);
    cmd_ln_free_r(config);
    result.chunk.finish();
    result.end_utt.finish();
    result.ran = true;
    return result;
}
#else
Baseline time_pocketsphinx(const Input&, double) {
    Baseline result;
    result.why_not = "pocketsphinx was not found at build time: install libpocketsphinx-dev and "
                     "pocketsphinx-en-us (scripts/setup.sh) and rebuild for the baseline";
    return result;
}
#endif

void print_row(const std::string& name, const Distribution& d, const std::string& rtf, const std::string& versus) {
    fmt::print("| {:<46} | {:>8.1f} | {:>8.1f} | {:>8.1f} | {:>8.1f} | {:>8.1f} | {:>15} | {:>9} |\n", name,
               d.mean() / 1e3, d.at(0.5) / 1e3, d.at(0.9) / 1e3, d.at(0.99) / 1e3, d.max() / 1e3, rtf, versus);
}

}  // namespace

int run_transcribe_bench(const TranscribeBenchOptions& options) {
    pin_to_current_core();
    const models::ModelFile file = models::ModelFile::load(options.model_path);
    const models::SsmModel model(file);
    engine::require_transcriber_model(model);
    const auto& frontend = file.description().frontend;
    const std::filesystem::path input_path =
        options.input_path.empty()
            ? std::filesystem::path(STATESTREAM_SOURCE_DIR) / "data" / "audio" / "speech_16k.wav"
            : std::filesystem::path(options.input_path);
    const Input input = read_input(input_path);
    const double hop_s = static_cast<double>(frontend.hop_samples) / frontend.sample_rate_hz;
    const double window_s = static_cast<double>(frontend.window_samples) / frontend.sample_rate_hz;
    const double hop_ns = hop_s * 1e9;

    const Replay live = replay(model, input, options.endpoint_seconds);
    if (options.replay_only) {
        for (const auto& event : live.events) fmt::print("{}\n", event_json(event).dump());
        return 0;
    }
    const double resampler_s =
        TranscriberStream(model, input.rate_hz, options.endpoint_seconds, {}, 0).resampler_delay_seconds();
    const ChainResult chain = time_chain(model, input, options.endpoint_seconds, options.seconds_per_case);
    const Baseline baseline = time_pocketsphinx(input, options.seconds_per_case);
    const std::vector<StreamsRow> rows = search_streams(model, input, options.endpoint_seconds,
                                                        options.max_streams, options.seconds_per_case, hop_ns);
    std::size_t max_fit = 0;
    for (const auto& row : rows) {
        if (row.fits) max_fit = std::max(max_fit, row.streams);
    }
    const double algorithmic_s = hop_s + resampler_s;  // look-ahead 0: the window ends at the hop's end

    if (options.json) {
        nlohmann::json streams = nlohmann::json::array();
        for (const auto& row : rows) {
            streams.push_back({{"streams", row.streams}, {"step_us", row.step.json_us()},
                               {"round_us", row.round.json_us()},
                               {"round_mean_share_of_hop", row.round.mean() / hop_ns}, {"fits", row.fits}});
        }
        nlohmann::json finals = nlohmann::json::array();
        for (const auto& event : live.events) {
            if (event.final) finals.push_back(event_json(event));
        }
        const ReplayEvent* first = live.first_partial();
        nlohmann::json doc = {
            {"schema", "statestream.bench.transcribe/1"},
            {"clock", "CPU time of the bench's thread (CLOCK_THREAD_CPUTIME_ID), pinned to one core; "
                      "the VM's scheduling stalls are not counted"},
            {"model", {{"path", options.model_path}, {"parameters", file.parameter_count()},
                       {"layers", model.architecture().layers.size()}, {"d_model", model.architecture().d_model}}},
            {"input", {{"path", input_path.string()}, {"rate_hz", input.rate_hz}, {"seconds", input.seconds()}}},
            {"latency", {{"hop_ms", hop_s * 1e3}, {"window_ms", window_s * 1e3}, {"lookahead_ms", 0.0},
                         {"resampler_ms", resampler_s * 1e3}, {"algorithmic_ms", algorithmic_s * 1e3}}},
            {"chain", {{"rtf", chain.rtf()}, {"rtfx", 1.0 / chain.rtf()}, {"audio_seconds", chain.audio_seconds},
                       {"step_us", chain.total.json_us()}, {"frontend_us", chain.frontend.json_us()},
                       {"model_us", chain.model.json_us()}, {"decoder_us", chain.decoder.json_us()}}},
            {"replay", {{"endpoint_s", options.endpoint_seconds},
                        {"first_partial", first ? event_json(*first) : nlohmann::json()},
                        {"finals", finals}, {"text", live.text()}}},
            {"streams", {{"budget_share", kBudgetShare}, {"rows", streams}, {"max_streams_fit", max_fit}}},
        };
        if (baseline.ran) {
            doc["baseline"] = {{"name", baseline.name}, {"rtf", baseline.rtf()}, {"rtfx", 1.0 / baseline.rtf()},
                               {"chunk_us", baseline.chunk.json_us()}, {"end_utt_us", baseline.end_utt.json_us()},
                               {"text", baseline.hypothesis}, {"rtf_ratio_to_ours", baseline.rtf() / chain.rtf()}};
        } else {
            doc["baseline"] = {{"name", nullptr}, {"why_not", baseline.why_not}};
        }
        fmt::print("{}\n", doc.dump(1));
        return 0;
    }

    fmt::print("transcriber: {} ({} parameters, {} layers, d_model {})\n", options.model_path,
               file.parameter_count(), model.architecture().layers.size(), model.architecture().d_model);
    fmt::print("input: {} ({:.2f} s at {} Hz; read into memory before timing)\n", input_path.string(),
               input.seconds(), input.rate_hz);
    fmt::print("one thread pinned to one core; CPU time of that thread (CLOCK_THREAD_CPUTIME_ID), not "
               "wall time: this VM stalls threads for 1-7 ms at times, which wall-clock percentiles "
               "would count as ours. {:.1f} s of CPU per case.\n\n", options.seconds_per_case);

    fmt::print("algorithmic latency: {:.1f} ms = hop {:.1f} ms (a step needs its whole hop) + look-ahead "
               "0 ms (the {:.1f} ms window ends at the hop's last sample and reaches {:.1f} ms back; the "
               "model is causal){}\n\n", algorithmic_s * 1e3, hop_s * 1e3, window_s * 1e3,
               (window_s - hop_s) * 1e3,
               resampler_s > 0.0 ? fmt::format(" + resampler {:.2f} ms", resampler_s * 1e3) : std::string());

    fmt::print("| {:<46} | {:>8} | {:>8} | {:>8} | {:>8} | {:>8} | {:>15} | {:>9} |\n", "CPU per 10 ms of audio",
               "mean us", "p50 us", "p90 us", "p99 us", "max us", "RTF (RTFx)", "CPU/ours");
    fmt::print("|{:-<48}|{:->10}|{:->10}|{:->10}|{:->10}|{:->10}|{:->17}|{:->11}|\n", "", "", "", "", "", "",
               "", "");
    const auto rtf_text = [](double rtf) { return fmt::format("{:.4f} ({:.0f})", rtf, 1.0 / rtf); };
    print_row("statestream: whole chain, one step", chain.total, rtf_text(chain.rtf()), "1.00x");
    print_row(input.rate_hz == frontend.sample_rate_hz ? "  front-end (log-mel)"
                                                       : "  front-end (resample + log-mel)",
              chain.frontend, "", "");
    print_row("  model step", chain.model, "", "");
    print_row("  decoder (greedy CTC, live transcript sink)", chain.decoder, "", "");
    if (baseline.ran) {
        print_row("pocketsphinx: ps_process_raw of 10 ms", baseline.chunk, rtf_text(baseline.rtf()),
                  fmt::format("{:.1f}x", baseline.rtf() / chain.rtf()));  // its CPU per audio second over ours
        fmt::print("\npocketsphinx (en-us acoustic model, default US English LM, CMU dictionary) on the same "
                   "audio: RTF {:.4f}, RTFx {:.1f}, including ps_end_utt's final passes ({:.1f} ms per file); "
                   "statestream's RTF is {:.1f}x lower.\n", baseline.rtf(), 1.0 / baseline.rtf(),
                   baseline.end_utt.mean() / 1e6, baseline.rtf() / chain.rtf());
        fmt::print("  pocketsphinx: \"{}\"\n", baseline.hypothesis);
    } else {
        fmt::print("\n(no baseline: {})\n", baseline.why_not);
    }
    fmt::print("  statestream:  \"{}\"\n\n", live.text());

    const ReplayEvent* first = live.first_partial();
    fmt::print("live transcript sink replayed on the file (endpoint {:.2f} s), in seconds of input audio "
               "when the step's hop was complete (add the step's compute for wall-clock): first partial {}",
               options.endpoint_seconds,
               first ? fmt::format("at {:.2f} s (\"{}\")", first->at_s, first->text) : std::string("never"));
    for (const auto& event : live.events) {
        if (!event.final) continue;
        fmt::print("; final at {:.2f} s{} (its last word ends at {:.2f} s)", event.at_s,
                   event.at_end ? " (end of input)" : "", event.words.back().end_s);
    }
    fmt::print("\n\n");

    fmt::print("live streams on one core: N streams, each with its own front-end, state and sink, stepped "
               "round-robin on one thread; a round is 10 ms of audio for all N. N fits while the round's "
               "mean CPU is at most {:.0f} % of {:.0f} ms (the live worker lets 200 ms of audio wait, so "
               "slow rounds are caught up; the rest is margin for jitter, capture and the VM).\n\n",
               kBudgetShare * 100, hop_s * 1e3);
    fmt::print("| {:>7} | {:>11} | {:>11} | {:>13} | {:>12} | {:>12} | {:>13} | {:>4} |\n", "streams",
               "step p50 us", "step p99 us", "round mean ms", "round p50 ms", "round p99 ms", "mean / 10 ms",
               "fits");
    fmt::print("|{:->9}|{:->13}|{:->13}|{:->15}|{:->14}|{:->14}|{:->15}|{:->6}|\n", "", "", "", "", "", "", "",
               "");
    for (const auto& row : rows) {
        fmt::print("| {:>7} | {:>11.1f} | {:>11.1f} | {:>13.2f} | {:>12.2f} | {:>12.2f} | {:>12.0f}% | {:>4} |\n",
                   row.streams, row.step.at(0.5) / 1e3, row.step.at(0.99) / 1e3, row.round.mean() / 1e6,
                   row.round.at(0.5) / 1e6, row.round.at(0.99) / 1e6, 100.0 * row.round.mean() / hop_ns,
                   row.fits ? "yes" : "no");
    }
    fmt::print("\nlive streams per core: {} (largest N measured whose mean round stays within {:.0f} % of the "
               "{:.0f} ms budget); the whole-chain mean step alone would allow {:.0f} at 100 %.\n", max_fit,
               kBudgetShare * 100, hop_s * 1e3, std::floor(hop_ns / chain.total.mean()));
    return 0;
}

}  // namespace statestream::bench
