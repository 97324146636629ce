#pragma once
// `statestream bench transcribe`: the recogniser's speed on one core, the way ASR results are
// reported. Over one speech file, for the default decoder (the CTC prefix beam search with the
// word LM, chosen as `statestream transcribe` chooses it) and for greedy CTC: real-time factor
// (RTF = CPU seconds / audio seconds) and RTFx = 1 / RTF (the Open ASR Leaderboard's figure) of
// the whole chain (resampling if needed, log-mel, model step, the decoder in the live
// transcript sink), CPU time per 10 ms step as mean/p50/p90/p99/max split into front-end, model
// and decoder; how many independent live streams one core holds with the default decoder; the
// chain's algorithmic latency and, replayed through the live transcript sink with the default
// decoder, when the first partial and the final of the file come. Beside it, in the same run:
// pocketsphinx (en-us, its default LM) decoding the same audio, when the build found
// libpocketsphinx-dev. A benchmark never passes or fails; it prints.

#include <cstddef>
#include <functional>
#include <string>

#include "engine/ctc_decoder.hpp"

namespace statestream::models {
class SsmModel;
}

namespace statestream::bench {

// A decoder the bench runs: how each stream gets one, and what it is.
struct BenchDecoder {
    std::string name;         // CtcDecoder::name() of what `make` makes: "beam+lm" or "greedy"
    std::string description;  // its search, settings and LM file, as `statestream transcribe` says
    engine::CtcDecoderFactory make;
};

struct TranscribeBenchOptions {
    double seconds_per_case = 1.0;  // CPU time spent measuring each case
    std::string model_path;         // a transcriber model file
    std::string input_path;         // empty: data/audio/speech_16k.wav of the source tree
    double endpoint_seconds = 0.8;  // the live sink's endpoint, as `transcribe --endpoint`
    std::size_t max_streams = 512;  // the stream search stops here at the latest
    bool json = false;              // one JSON object (statestream.bench.transcribe/2) instead
    // Only the replay: the input through the live transcript sink with the default decoder,
    // untimed, each partial and final as a JSON line with the input time of the step that
    // fired it (latency_report.py).
    bool replay_only = false;
    // Thread: main. The default decoder for the loaded model, chosen the way `statestream
    // transcribe` chooses it (apps/transcriber_setup.hpp: --lm, --beam, the LM beside the
    // model). Unset: greedy. When it is not greedy, greedy is measured beside it.
    std::function<BenchDecoder(const models::SsmModel&)> choose_decoder;
};

// Thread: main. Pins itself to the core it is on and prints to stdout; returns 0. Throws
// std::invalid_argument (not a transcriber) or engine::AudioFileError (input unreadable), each
// naming the file, and whatever choose_decoder throws.
int run_transcribe_bench(const TranscribeBenchOptions& options);

}  // namespace statestream::bench
