// `statestream transcribe FILE...`: speech to text with the shipped (or a given) streaming CTC
// recogniser. Text by default, one line per file; --format jsonl (one object per file, words
// with times), srt or vtt (subtitles, one file). docs/transcribe.md.

#include <cmath>
#include <memory>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "apps/model_search.hpp"
#include "apps/subcommand.hpp"
#include "engine/io/audio_file.hpp"
#include "engine/transcribe_file.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"

namespace statestream::apps {

namespace {

constexpr const char* kShippedModel = "transcriber.safetensors";
// Subtitle cues break at pauses this long, or when a cue grows past these limits.
constexpr double kCuePauseSeconds = 0.6;
constexpr double kCueMaxSeconds = 6.0;
constexpr std::size_t kCueMaxChars = 84;

struct TranscribeArguments {
    std::vector<std::string> files;
    std::string model;
    std::string format = "text";
    std::string input_device;
};

struct Cue {
    double start_s = 0.0;
    double end_s = 0.0;
    std::string text;
};

std::vector<Cue> cues_of(const std::vector<engine::TimedWord>& words) {
    std::vector<Cue> cues;
    for (const auto& word : words) {
        const bool new_cue = cues.empty() || word.start_s - cues.back().end_s > kCuePauseSeconds ||
                             word.end_s - cues.back().start_s > kCueMaxSeconds ||
                             cues.back().text.size() + 1 + word.text.size() > kCueMaxChars;
        if (new_cue) {
            cues.push_back({word.start_s, word.end_s, word.text});
        } else {
            cues.back().text += " " + word.text;
            cues.back().end_s = word.end_s;
        }
    }
    return cues;
}

std::string timestamp(double seconds, char decimal) {
    const auto ms = static_cast<long long>(std::llround(seconds * 1000.0));
    return fmt::format("{:02}:{:02}:{:02}{}{:03}", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60,
                       decimal, ms % 1000);
}

void print_transcript(const std::string& file, const engine::Transcript& transcript,
                      const std::string& format, bool several) {
    if (format == "text") {
        if (several) fmt::print("{}\t{}\n", file, transcript.text);
        else fmt::print("{}\n", transcript.text);
    } else if (format == "jsonl") {
        nlohmann::json words = nlohmann::json::array();
        for (const auto& word : transcript.words) {
            words.push_back({{"word", word.text}, {"start", word.start_s}, {"end", word.end_s}});
        }
        const nlohmann::json line = {{"type", "final"}, {"final", true}, {"file", file},
                                     {"text", transcript.text}, {"words", words},
                                     {"audio_s", transcript.audio_seconds}};
        fmt::print("{}\n", line.dump());
    } else {
        const bool vtt = format == "vtt";
        if (vtt) fmt::print("WEBVTT\n\n");
        int number = 0;
        for (const Cue& cue : cues_of(transcript.words)) {
            if (!vtt) fmt::print("{}\n", ++number);
            fmt::print("{} --> {}\n{}\n\n", timestamp(cue.start_s, vtt ? '.' : ','),
                       timestamp(cue.end_s, vtt ? '.' : ','), cue.text);
        }
    }
}

ExitCode run_transcribe(const TranscribeArguments& args) {
    if (!args.input_device.empty()) {
        fmt::print(stderr, "statestream transcribe: live transcription (--input) is not built yet "
                           "in this version; transcribe files instead\n");
        return ExitCode::kRuntimeFailure;
    }
    if (args.files.empty()) throw BadInputError("give one or more audio files (see --help)");
    if ((args.format == "srt" || args.format == "vtt") && args.files.size() != 1) {
        throw BadInputError(fmt::format("--format {} writes the subtitles of one file; give one", args.format));
    }
    const std::filesystem::path path =
        args.model.empty() ? find_shipped_model(kShippedModel) : std::filesystem::path(args.model);
    const models::ModelFile file = models::ModelFile::load(path);
    const models::SsmModel model(file);
    try {
        engine::require_transcriber_model(model);
    } catch (const std::invalid_argument& error) {
        throw BadInputError(error.what());
    }
    int failed = 0;
    for (const auto& name : args.files) {
        try {
            const engine::Transcript transcript = engine::transcribe_file(model, name);
            print_transcript(name, transcript, args.format, args.files.size() > 1);
            fmt::print(stderr, "{}: {:.2f} s of audio, {} steps, {:.3f} s CPU (RTF {:.4f})\n", name,
                       transcript.audio_seconds, transcript.steps, transcript.process_cpu_seconds,
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
    cli->add_option("--input,-i", args->input_device, "Live: capture device (not built yet)");
    return {cli, [args]() { return run_transcribe(*args); }};
}

}  // namespace statestream::apps
