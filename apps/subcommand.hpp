#pragma once
// Each subcommand lives in its own cmd_<name>.cpp: it registers its options on the parent CLI
// and returns the function main() runs when that subcommand was chosen.

#include <functional>

#include <CLI/CLI.hpp>

#include "apps/exit_code.hpp"

namespace statestream::apps {

struct Subcommand {
    CLI::App* cli = nullptr;
    std::function<ExitCode()> run;
};

Subcommand add_info_command(CLI::App& parent);
Subcommand add_devices_command(CLI::App& parent);
Subcommand add_bench_command(CLI::App& parent);
Subcommand add_run_command(CLI::App& parent);
Subcommand add_enhance_command(CLI::App& parent);
Subcommand add_transcribe_command(CLI::App& parent);
Subcommand add_forecast_command(CLI::App& parent);
Subcommand add_batch_command(CLI::App& parent);

}  // namespace statestream::apps
