#pragma once
// One exit-code table for every subcommand (docs/cli.md). Scripts and schedulers branch on it.

#include <stdexcept>

namespace statestream::apps {

enum class ExitCode : int {
    kSuccess = 0,          // everything asked for was done
    kRuntimeFailure = 1,   // the environment failed: device lost, disk full, feature not built
    kBadInput = 2,         // bad input or usage: unreadable or invalid file, unknown option
    kPartialSuccess = 3,   // some files or lines failed; the rest were done and kept
};

// Thrown by a subcommand for input the user can fix; main() prints it and exits with kBadInput.
class BadInputError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace statestream::apps
