#pragma once
// Runs a built pipeline under the command line's signal contract, for every subcommand that
// streams (run, enhance --input/--output): Ctrl-C or SIGTERM stop cleanly (output finished,
// statistics printed, exit 0), SIGUSR1 prints the statistics so far as one JSON line on stderr,
// a lost device or a failure exits 1 after the same report.

#include "apps/exit_code.hpp"
#include "engine/stream_runner.hpp"

namespace statestream::apps {

// Thread: main. `command` names the subcommand in messages ("run", "enhance"). With
// stats_json the final report goes to stdout as JSON (statestream.run/1), else as text to
// stderr. Setup errors (a device that is not there) become BadInputError.
ExitCode run_with_signals(const char* command, engine::Pipeline& pipeline,
                          const engine::WorkerConfig& worker, const engine::RunOptions& options,
                          bool stats_json);

}  // namespace statestream::apps
