#pragma once
// How a transcriber's CTC decoder is chosen, shared by `statestream transcribe` and
// `statestream bench transcribe` so the bench measures exactly what transcribe runs: the
// --lm and --beam options, where the word LM is found (beside the model, then among the
// shipped models), the beam settings' checks, and the factory every stream gets its decoder
// from. The LM is loaded once and shared, read-only, by all the decoders a factory makes.

#include <filesystem>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "engine/ctc_beam_settings.hpp"
#include "engine/ctc_decoder.hpp"
#include "models/ssm_model.hpp"

namespace statestream::apps {

inline constexpr const char* kShippedTranscriber = "transcriber.safetensors";
// The word LM that ships with it (models/train/asr/README.md, "Language model for the decoder").
inline constexpr const char* kShippedLanguageModel = "transcriber.lm.arpa";
// --lm none: greedy decoding.
inline constexpr std::string_view kNoLanguageModel = "none";

struct DecoderOptions {
    std::string lm;  // empty: the shipped one when there is one; "none": greedy
    engine::CtcBeamSettings beam;
};

struct DecoderChoice {
    engine::CtcDecoderFactory make;  // never empty
    std::string name;                // CtcDecoder::name() of what it makes: "beam+lm" or "greedy"
    std::string description;         // the search, its settings and the LM file, and why
};

// Thread: main (setup). Registers --lm and --beam on `cli`, writing into `options`, which must
// outlive the parse. The beam search's weights (--lm-weight, --word-bonus) are transcribe's own.
void add_decoder_options(CLI::App& cli, DecoderOptions& options);

// Thread: main (setup; reads the LM). A beam search with the word LM (--lm FILE, or
// kShippedLanguageModel beside model_path or among the shipped models), or greedy (--lm none,
// or no LM found). Throws BadInputError for settings out of range (checked even when greedy: a
// typo should not pass) or an LM file that does not load, naming the file, line and fix.
[[nodiscard]] DecoderChoice choose_decoder(const DecoderOptions& options, const models::SsmModel& model,
                                           const std::filesystem::path& model_path);

// Thread: main (setup). Greedy CTC: the best label per frame.
[[nodiscard]] engine::CtcDecoderFactory greedy_decoder_factory();

}  // namespace statestream::apps
