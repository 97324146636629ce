// statestream: the command-line entry point. Thin by design: parse, call the engine, print,
// and map every failure onto the exit-code table in docs/cli.md.

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "apps/exit_code.hpp"
#include "apps/subcommand.hpp"
#include "apps/version.hpp"
#include "models/model_file_error.hpp"

namespace {

using statestream::apps::ExitCode;

int to_int(ExitCode code) { return static_cast<int>(code); }

}  // namespace

int main(int argc, char** argv) {
    CLI::App cli{"statestream: state-space models over live audio, ticks and files, with "
                 "measured latency.\nEvery subcommand takes --help. Exit codes: 0 success, "
                 "1 runtime failure, 2 bad input or usage, 3 partial success.",
                 "statestream"};
    cli.set_version_flag("--version", std::string(statestream::apps::version_line()));
    cli.require_subcommand(1);
    cli.fallthrough(false);

    std::vector<statestream::apps::Subcommand> subcommands = {
        statestream::apps::add_enhance_command(cli),
        statestream::apps::add_transcribe_command(cli),
        statestream::apps::add_forecast_command(cli),
        statestream::apps::add_batch_command(cli),
        statestream::apps::add_run_command(cli),
        statestream::apps::add_bench_command(cli),
        statestream::apps::add_devices_command(cli),
        statestream::apps::add_info_command(cli),
    };

    try {
        cli.parse(argc, argv);
    } catch (const CLI::CallForHelp& help) {
        return cli.exit(help);
    } catch (const CLI::CallForAllHelp& help) {
        return cli.exit(help);
    } catch (const CLI::CallForVersion& version) {
        return cli.exit(version);
    } catch (const CLI::ParseError& error) {
        (void)cli.exit(error);  // prints the message and a pointer to --help
        return to_int(ExitCode::kBadInput);
    }

    for (const auto& subcommand : subcommands) {
        if (!subcommand.cli->parsed()) continue;
        const std::string name = subcommand.cli->get_name();
        try {
            const ExitCode code = subcommand.run();
            // What is still in stdout's buffer goes out here: on a full disk (or /dev/full) a
            // transcript would otherwise be lost after a run that reports success.
            if (std::fflush(stdout) != 0) {
                fmt::print(stderr, "statestream {}: cannot write to standard output ({}); what it "
                                   "printed is incomplete\n", name, std::strerror(errno));
                return to_int(ExitCode::kRuntimeFailure);
            }
            return to_int(code);
        } catch (const statestream::models::ModelFileError& error) {
            fmt::print(stderr, "statestream {}: {}\n", name, error.what());
            return to_int(ExitCode::kBadInput);
        } catch (const statestream::apps::BadInputError& error) {
            fmt::print(stderr, "statestream {}: {}\n", name, error.what());
            return to_int(ExitCode::kBadInput);
        } catch (const std::exception& error) {
            fmt::print(stderr, "statestream {}: {}\n", name, error.what());
            return to_int(ExitCode::kRuntimeFailure);
        }
    }
    return to_int(ExitCode::kBadInput);  // unreachable: require_subcommand(1)
}
