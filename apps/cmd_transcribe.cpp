// `statestream transcribe FILE...`: speech to text with the shipped (or a given) streaming CTC
// recogniser. Text by default, one line per file; --format jsonl (one object per file, words
// with times), srt or vtt (subtitles, one file). Decoding is a CTC prefix beam search with the
// word LM shipped beside the model, or greedy without one. docs/transcribe.md.

#include <cmath>
#include <memory>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include "apps/model_search.hpp"
#include "apps/streaming_run.hpp"
#include "apps/subcommand.hpp"
#include "apps/transcriber_setup.hpp"
#include "engine/ctc_greedy_decoder.hpp"
#include "engine/io/audio_file.hpp"
#include "engine/stages/log_mel_stage.hpp"
#include "engine/stages/model_stage.hpp"
#include "engine/stages/resample_stage.hpp"
#include "engine/transcribe_file.hpp"
#include "engine/transcript_formats.hpp"
#include "engine/transcript_sink.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"

namespace statestream::apps {

namespace {

struct TranscribeArguments {
    std::vector<std::string> files;
    std::string model;
    std::string format = "text";
    std::string input_device;
    std::uint32_t rate_hz = 48000;
    double seconds = 0.0;
    double endpoint_s = 0.8;
    bool stats_json = false;
    DecoderOptions decoder;  // --lm, --beam, --lm-weight, --word-bonus
};

void print_transcript(const std::string& file, const engine::Transcript& transcript,
                      engine::TranscriptFormat format, bool several) {
    // Several files in text: one line each, named, so the lines can be told apart.
    if (format == engine::TranscriptFormat::kText && several) {
        fmt::print("{}\t{}\n", file, transcript.text);
    } else {
        fmt::print("{}", engine::render_transcript(transcript, format, file));
    }
}

nlohmann::json words_json(const std::vector<engine::TimedWord>& words) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& word : words) {
        list.push_back({{"word", word.text}, {"start", word.start_s}, {"end", word.end_s}});
    }
    return list;
}

// Live: capture -> (resample) -> log-mel -> model on the real-time worker; the transcript sink
// decodes on the pool. On a terminal the partial line is rewritten in place; piped, every
// partial and final is a JSON line.
ExitCode transcribe_live(const TranscribeArguments& args, const models::SsmModel& model,
                         const engine::CtcDecoderFactory& make_decoder) {
    const auto& frontend = model.file().description().frontend;
    std::vector<std::unique_ptr<engine::Stage>> stages;
    const std::size_t hop_at_device = args.rate_hz * frontend.hop_samples / frontend.sample_rate_hz;
    if (hop_at_device * frontend.sample_rate_hz != args.rate_hz * std::size_t{frontend.hop_samples}) {
        throw BadInputError(fmt::format("--rate {} does not hold a whole number of samples per {} ms "
                                        "hop; use 16000, 32000, 44100 or 48000", args.rate_hz,
                                        1000 * frontend.hop_samples / frontend.sample_rate_hz));
    }
    if (args.rate_hz != frontend.sample_rate_hz) {
        stages.push_back(std::make_unique<engine::ResampleStage>(args.rate_hz, frontend.sample_rate_hz,
                                                                 hop_at_device));
    }
    stages.push_back(std::make_unique<engine::LogMelStage>(dsp::LogMelConfig{
        static_cast<double>(frontend.sample_rate_hz), frontend.window_samples, frontend.hop_samples,
        frontend.n_bands}));
    const double step_rate = static_cast<double>(frontend.sample_rate_hz) / frontend.hop_samples;
    stages.push_back(std::make_unique<engine::ModelStage>(model, step_rate));
    engine::Pipeline pipeline(std::move(stages));
    fmt::print(stderr, "{}", pipeline.describe());

    const bool terminal = ::isatty(STDOUT_FILENO) != 0;
    engine::TranscriptEvents events;
    if (terminal) {
        events.partial = [](const std::string& text) { fmt::print("\r\033[K{}", text); std::fflush(stdout); };
        events.final = [](const std::vector<engine::TimedWord>& words) {
            std::string text;
            for (const auto& word : words) text += (text.empty() ? "" : " ") + word.text;
            fmt::print("\r\033[K{}\n", text);
            std::fflush(stdout);
        };
    } else {
        events.partial = [](const std::string& text) {
            fmt::print("{}\n", nlohmann::json{{"type", "partial"}, {"final", false}, {"text", text}}.dump());
            std::fflush(stdout);
        };
        events.final = [](const std::vector<engine::TimedWord>& words) {
            std::string text;
            for (const auto& word : words) text += (text.empty() ? "" : " ") + word.text;
            fmt::print("{}\n", nlohmann::json{{"type", "final"}, {"final", true}, {"text", text},
                                              {"start", words.front().start_s},
                                              {"end", words.back().end_s},
                                              {"words", words_json(words)}}.dump());
            std::fflush(stdout);
        };
    }
    engine::RunOptions options;
    options.source = args.input_device.rfind("device:", 0) == 0 ? args.input_device
                                                                 : "device:" + args.input_device;
    options.sink = "transcript";
    if (args.seconds > 0.0) options.max_seconds = args.seconds;
    const auto labels = model.file().description().labels;
    const double frame_seconds = 1.0 / step_rate;
    const double front_delay = pipeline.latency_seconds();
    const double endpoint = args.endpoint_s;
    options.make_sink = [labels, frame_seconds, front_delay, endpoint, events,
                         make_decoder](const engine::StageShape&) {
        std::unique_ptr<engine::CtcDecoder> decoder =
            make_decoder ? make_decoder(labels, frame_seconds, front_delay)
                         : std::make_unique<engine::CtcGreedyDecoder>(labels, frame_seconds, front_delay);
        return std::make_unique<engine::TranscriptSink>(std::move(decoder), frame_seconds, endpoint, events);
    };
    engine::WorkerConfig worker;
    worker.policy = engine::OverloadPolicy::kDrop;
    worker.max_backlog_steps = 20;  // 200 ms of audio may wait; text may lag, never skip
    return run_with_signals("transcribe", pipeline, worker, options, args.stats_json);
}

ExitCode run_transcribe(const TranscribeArguments& args) {
    if (!args.input_device.empty() && !args.files.empty()) {
        throw BadInputError("give files or --input DEVICE, not both");
    }
    if (args.files.empty() && args.input_device.empty()) {
        throw BadInputError("give one or more audio files, or --input DEVICE (see --help)");
    }
    if ((args.format == "srt" || args.format == "vtt") && args.files.size() != 1) {
        throw BadInputError(fmt::format("--format {} writes the subtitles of one file; give one", args.format));
    }
    const std::filesystem::path path =
        args.model.empty() ? find_shipped_model(kShippedTranscriber) : std::filesystem::path(args.model);
    const models::ModelFile file = models::ModelFile::load(path);
    const models::SsmModel model(file);
    try {
        engine::require_transcriber_model(model);
    } catch (const std::invalid_argument& error) {
        throw BadInputError(error.what());
    }
    // Says on stderr which decoder every stream gets (apps/transcriber_setup.hpp).
    const DecoderChoice decoder = choose_decoder(args.decoder, model, path);
    fmt::print(stderr, "decoder: {}\n", decoder.description);
    const engine::CtcDecoderFactory& make_decoder = decoder.make;
    if (!args.input_device.empty()) return transcribe_live(args, model, make_decoder);
    // The option's check admits only names the formats know.
    const engine::TranscriptFormat format =
        engine::parse_transcript_format(args.format).value_or(engine::TranscriptFormat::kText);
    int failed = 0;
    for (const auto& name : args.files) {
        try {
            const engine::Transcript transcript = engine::transcribe_file(model, name, make_decoder);
            print_transcript(name, transcript, format, args.files.size() > 1);
            fmt::print(stderr, "{}: {:.2f} s of audio, {} steps, {:.3f} s CPU with {} decoding (RTF {:.4f})\n",
                       name, transcript.audio_seconds, transcript.steps, transcript.process_cpu_seconds,
                       transcript.decoder,
                       transcript.audio_seconds > 0 ? transcript.process_cpu_seconds / transcript.audio_seconds : 0.0);
        } catch (const engine::AudioFileError& error) {
            fmt::print(stderr, "statestream transcribe: {}\n", error.what());
            ++failed;
        }
    }
    if (failed == 0) return ExitCode::kSuccess;
    return failed == static_cast<int>(args.files.size()) ? ExitCode::kBadInput : ExitCode::kPartialSuccess;
}

}  // namespace

Subcommand add_transcribe_command(CLI::App& parent) {
    auto args = std::make_shared<TranscribeArguments>();
    CLI::App* cli = parent.add_subcommand(
        "transcribe", "Speech to text with a streaming SSM recogniser: files (any format and rate "
                      "libsndfile reads; resampled), as text, JSON lines with word times, SRT or "
                      "WebVTT.");
    cli->add_option("files", args->files, "Audio files")->check(CLI::ExistingFile);
    cli->add_option("--model,-m", args->model,
                    "Transcriber model file (default: the shipped data/models/transcriber.safetensors)");
    cli->add_option("--format,-f", args->format, "text, jsonl, srt or vtt")
        ->check(CLI::IsMember({"text", "jsonl", "srt", "vtt"}))
        ->capture_default_str();
    cli->add_option("--input,-i", args->input_device,
                    "Live: capture device (NAME, INDEX or default; see statestream devices)");
    cli->add_option("--rate", args->rate_hz, "Live: the device rate in Hz")
        ->check(CLI::Range(8000, 192000))
        ->capture_default_str();
    cli->add_option("--seconds", args->seconds, "Live: stop after this much input")
        ->check(CLI::NonNegativeNumber);
    cli->add_option("--endpoint", args->endpoint_s,
                    "Live: seconds without new text that end a segment (its final line)")
        ->check(CLI::Range(0.1, 10.0))
        ->capture_default_str();
    cli->add_flag("--stats", args->stats_json,
                  "Live: print the final statistics as JSON (statestream.run/1) on stdout");
    add_decoder_options(*cli, args->decoder);
    cli->add_option("--lm-weight", args->decoder.beam.lm_weight,
                    "Beam search: weight of the LM's natural-log probability of each word against "
                    "the acoustic log-probability (0: acoustics alone)")
        ->capture_default_str();
    cli->add_option("--word-bonus", args->decoder.beam.word_bonus,
                    "Beam search: nats added per word; raise it when words go missing, lower it "
                    "when short words are inserted")
        ->capture_default_str();
    return {cli, [args]() { return run_transcribe(*args); }};
}

}  // namespace statestream::apps
