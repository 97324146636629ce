#pragma once
// A program started with a pipe on its standard input, for interactive hosts (jalv reads
// commands there and exits at end of input); output goes to files as in run_process.hpp, and
// finish_process() collects it.

#include <csignal>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

#include "tests/support/run_process.hpp"

namespace statestream::test {

struct PipedProcess {
    StartedProcess started;
    int input = -1;  // write end of the program's stdin; -1 once closed

    // Thread: the test's. Writes `line` to the program's stdin; false when it has gone.
    bool send(const std::string& line) const {
        return input >= 0 && ::write(input, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    }
    void close_input() {
        if (input >= 0) ::close(input);
        input = -1;
    }
};

inline PipedProcess start_piped_process(const std::vector<std::string>& argv) {
    // A write to a program that has exited must fail with EPIPE, not kill the test.
    std::signal(SIGPIPE, SIG_IGN);
    static int counter = 0;
    const auto dir = std::filesystem::temp_directory_path();
    const auto stem = "statestream-piped-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
    PipedProcess process{{-1, dir / (stem + ".out"), dir / (stem + ".err")}, -1};
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0) throw std::runtime_error("cannot make a pipe for " + argv[0]);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, ends[0], STDIN_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, process.started.out_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, process.started.err_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    const int spawned = posix_spawn(&process.started.pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(ends[0]);
    if (spawned != 0) {
        ::close(ends[1]);
        throw std::runtime_error("cannot start " + argv[0]);
    }
    process.input = ends[1];
    return process;
}

}  // namespace statestream::test
