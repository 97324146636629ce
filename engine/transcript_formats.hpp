#pragma once
// A file's transcript as a document: plain text, a JSON line with word times, SRT or WebVTT
// subtitles (docs/transcribe.md). `statestream transcribe` prints it, `statestream batch
// transcribe` writes one per file, so both say the same for the same file. Cues break at pauses
// of 0.6 s, after 6 s or at 84 characters.

#include <optional>
#include <string>
#include <string_view>

#include "engine/transcribe_file.hpp"

namespace statestream::engine {

enum class TranscriptFormat { kText, kJsonl, kSrt, kVtt };

// Thread: any. "txt" (or "text"), "jsonl", "srt", "vtt"; nothing for anything else.
[[nodiscard]] std::optional<TranscriptFormat> parse_transcript_format(std::string_view name) noexcept;
// Thread: any. ".txt", ".jsonl", ".srt", ".vtt".
[[nodiscard]] std::string_view extension_of(TranscriptFormat format) noexcept;

// Thread: any (allocates). The whole document, ending in a newline. `file` names the input in
// the JSON line's "file" field.
[[nodiscard]] std::string render_transcript(const Transcript& transcript, TranscriptFormat format,
                                            std::string_view file);

}  // namespace statestream::engine
