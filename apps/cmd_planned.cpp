// Subcommands whose engine has not landed yet. They are part of the CLI contract already, so
// `--help` works and scripts can probe for them; running one fails honestly with exit code 1.

#include <fmt/core.h>

#include "apps/subcommand.hpp"

namespace statestream::apps {

Subcommand add_planned_command(CLI::App& parent, const char* name, const char* description,
                               const char* arriving_with) {
    CLI::App* cli = parent.add_subcommand(name, std::string(description) +
                                                    " (not built yet in this version)");
    cli->allow_extras();  // accept the arguments it will take, so the message below is what users see
    const std::string command = name;
    const std::string feature = arriving_with;
    return {cli, [command, feature]() {
                fmt::print(stderr,
                           "statestream {}: not built yet: this version does not include {}. "
                           "See docs/cli.md for what is available.\n",
                           command, feature);
                return ExitCode::kRuntimeFailure;
            }};
}

}  // namespace statestream::apps
