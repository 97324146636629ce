#include "engine/transcript_formats.hpp"

#include <cmath>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

namespace statestream::engine {

namespace {

// A subtitle cue ends at a pause this long, or when it would grow past these limits: 84
// characters is two lines of 42, a common subtitle line limit.
constexpr double kCuePauseSeconds = 0.6;
constexpr double kCueMaxSeconds = 6.0;
constexpr std::size_t kCueMaxChars = 84;

struct Cue {
    double start_s = 0.0;
    double end_s = 0.0;
    std::string text;
};

std::vector<Cue> cues_of(const std::vector<TimedWord>& words) {
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

}  // namespace

std::optional<TranscriptFormat> parse_transcript_format(std::string_view name) noexcept {
    if (name == "txt" || name == "text") return TranscriptFormat::kText;
    if (name == "jsonl") return TranscriptFormat::kJsonl;
    if (name == "srt") return TranscriptFormat::kSrt;
    if (name == "vtt") return TranscriptFormat::kVtt;
    return std::nullopt;
}

std::string_view extension_of(TranscriptFormat format) noexcept {
    switch (format) {
        case TranscriptFormat::kText: return ".txt";
        case TranscriptFormat::kJsonl: return ".jsonl";
        case TranscriptFormat::kSrt: return ".srt";
        case TranscriptFormat::kVtt: return ".vtt";
    }
    return ".txt";
}

std::string render_transcript(const Transcript& transcript, TranscriptFormat format, std::string_view file) {
    switch (format) {
        case TranscriptFormat::kText:
            return transcript.text + "\n";
        case TranscriptFormat::kJsonl: {
            nlohmann::json words = nlohmann::json::array();
            for (const auto& word : transcript.words) {
                words.push_back({{"word", word.text}, {"start", word.start_s}, {"end", word.end_s}});
            }
            const nlohmann::json line = {{"type", "final"}, {"final", true}, {"file", std::string(file)},
                                         {"text", transcript.text}, {"words", words},
                                         {"audio_s", transcript.audio_seconds},
                                         {"decoder", transcript.decoder}};
            return line.dump() + "\n";
        }
        case TranscriptFormat::kSrt:
        case TranscriptFormat::kVtt: {
            const bool vtt = format == TranscriptFormat::kVtt;
            std::string text = vtt ? "WEBVTT\n\n" : "";
            int number = 0;
            for (const Cue& cue : cues_of(transcript.words)) {
                if (!vtt) text += fmt::format("{}\n", ++number);
                text += fmt::format("{} --> {}\n{}\n\n", timestamp(cue.start_s, vtt ? '.' : ','),
                                    timestamp(cue.end_s, vtt ? '.' : ','), cue.text);
            }
            return text;
        }
    }
    return transcript.text + "\n";
}

}  // namespace statestream::engine
