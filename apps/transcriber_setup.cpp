#include "apps/transcriber_setup.hpp"

#include <memory>
#include <stdexcept>

#include <fmt/core.h>

#include "apps/exit_code.hpp"
#include "apps/model_search.hpp"
#include "engine/ctc_greedy_decoder.hpp"
#include "engine/ctc_prefix_beam_decoder.hpp"
#include "engine/ngram_language_model.hpp"
#include "models/model_file.hpp"

namespace statestream::apps {

void add_decoder_options(CLI::App& cli, DecoderOptions& options) {
    cli.add_option("--lm", options.lm,
                   "Word language model (ARPA) for a CTC prefix beam search. Default: "
                   "transcriber.lm.arpa beside --model, else the shipped "
                   "data/models/transcriber.lm.arpa; without one, or with 'none', decoding is "
                   "greedy (the best label per 10 ms frame)");
    cli.add_option("--beam", options.beam.beam,
                   "Beam search: hypotheses kept per frame, 1..256; the cost of a frame grows "
                   "with it")
        ->capture_default_str();
}

engine::CtcDecoderFactory greedy_decoder_factory() {
    return [](const std::vector<std::string>& labels, double frame_s, double offset_s) {
        return std::make_unique<engine::CtcGreedyDecoder>(labels, frame_s, offset_s);
    };
}

DecoderChoice choose_decoder(const DecoderOptions& options, const models::SsmModel& model,
                             const std::filesystem::path& model_path) {
    const std::vector<std::string>& labels = model.file().description().labels;
    try {
        engine::validate(options.beam, labels.size());
    } catch (const std::invalid_argument& error) {
        throw BadInputError(error.what());
    }
    if (options.lm == kNoLanguageModel) {
        return {greedy_decoder_factory(), "greedy", "greedy CTC (--lm none)"};
    }
    std::filesystem::path lm_path = options.lm;
    if (options.lm.empty()) {
        const std::filesystem::path model_dir =
            model_path.has_parent_path() ? model_path.parent_path() : std::filesystem::path(".");
        const auto found = find_shipped_file(kShippedLanguageModel, model_dir);
        if (!found) {
            return {greedy_decoder_factory(), "greedy",
                    fmt::format("greedy CTC (no {} beside {} or among the shipped models; give --lm FILE "
                                "for a beam search)", kShippedLanguageModel, model_path.string())};
        }
        lm_path = *found;
    }
    std::shared_ptr<const engine::NgramLanguageModel> lm;
    try {
        lm = std::make_shared<const engine::NgramLanguageModel>(
            lm_path, engine::CtcPrefixBeamDecoder::alphabet_of(labels));
    } catch (const std::invalid_argument& error) {
        throw BadInputError(error.what());
    }
    const engine::CtcBeamSettings settings = options.beam;
    return {[settings, lm](const std::vector<std::string>& l, double frame_s, double offset_s) {
                return std::make_unique<engine::CtcPrefixBeamDecoder>(l, frame_s, offset_s, settings, lm);
            },
            "beam+lm",
            fmt::format("beam+lm CTC prefix beam search, beam {}, LM weight {}, word bonus {}; {}: {}-gram, "
                        "{} words", settings.beam, settings.lm_weight, settings.word_bonus, lm_path.string(),
                        lm->order(), lm->vocabulary_size())};
}

}  // namespace statestream::apps
