#pragma once
// `statestream bench batch`: how fast `statestream batch` gets through many files, the figure
// an overnight job cares about: aggregate speed as times real time (audio seconds processed per
// wall second, all jobs together). Over the same generated files, in the same run, for each
// task (enhance, transcribe): the model stepped once per 10 ms hop (step()) and run over
// chunks (forward()), each on one job and on every core, so the rows give both ratios the
// design rests on: chunked vs step by step, and N jobs vs one. It also checks that the two
// ways of calling the model wrote the same outputs. A benchmark never passes or fails; it
// prints.

#include <cstddef>
#include <functional>
#include <string>

#include "engine/ctc_decoder.hpp"

namespace statestream::models {
class SsmModel;
}

namespace statestream::bench {

// The decoder `statestream batch transcribe` would use for the model, and what it is.
struct BatchBenchDecoder {
    std::string description;
    engine::CtcDecoderFactory make;
};

struct BatchBenchOptions {
    std::size_t files = 100;          // per task; each a slice of the input file
    double file_seconds = 3.0;        // length of each slice
    std::size_t jobs = 0;             // the many-jobs rows; 0: every core this process may use
    std::string tasks = "both";       // "enhance", "transcribe" or "both"
    std::string enhancer_path;        // an enhancer model file
    std::string transcriber_path;     // a transcriber model file
    std::string enhance_input;        // empty: data/audio/noisy_speech_48k.wav of the source tree
    std::string transcribe_input;     // empty: data/audio/speech_16k.wav of the source tree
    // Thread: main. The decoder for the loaded transcriber, chosen as `statestream transcribe`
    // chooses it (apps/transcriber_setup.hpp). Unset: greedy.
    std::function<BatchBenchDecoder(const models::SsmModel&)> choose_decoder;
};

// Thread: main. Writes the files to a temporary folder (removed at the end), prints the table
// to stdout; returns 0. Throws std::invalid_argument (a model of the wrong task) or
// engine::AudioFileError (an input that cannot be read), each naming the file.
int run_batch_bench(const BatchBenchOptions& options);

}  // namespace statestream::bench
