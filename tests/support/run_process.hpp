#pragma once
// Runs a program as a user would (argv, no shell) and captures its exit code, stdout and
// stderr through temporary files, so neither stream can block the other.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <csignal>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace statestream::test {

struct ProcessResult {
    int exit_code = -1;  // -1 when killed by a signal
    std::string out;
    std::string err;
};

inline std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// A program started and not yet waited for: its pid and where its output goes.
struct StartedProcess {
    pid_t pid = -1;
    std::filesystem::path out_path;
    std::filesystem::path err_path;
};

inline StartedProcess start_process(const std::vector<std::string>& argv) {
    static int counter = 0;
    const auto dir = std::filesystem::temp_directory_path();
    const auto stem = "statestream-test-" + std::to_string(::getpid()) + "-" +
                      std::to_string(++counter);
    StartedProcess started{-1, dir / (stem + ".out"), dir / (stem + ".err")};

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, started.out_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, started.err_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    const int spawned =
        posix_spawn(&started.pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) throw std::runtime_error("cannot start " + argv[0]);
    return started;
}

// Waits for the program and collects its output. With a timeout, a program still running then
// gets SIGKILL (its result has exit_code -1 and says so in err).
inline ProcessResult finish_process(StartedProcess& started, int timeout_ms = -1) {
    int status = 0;
    bool killed = false;
    for (int waited_ms = 0;; waited_ms += 10) {
        const pid_t done = ::waitpid(started.pid, &status, timeout_ms < 0 ? 0 : WNOHANG);
        if (done == started.pid) break;
        if (timeout_ms >= 0 && waited_ms >= timeout_ms && !killed) {
            ::kill(started.pid, SIGKILL);
            killed = true;
        }
        if (timeout_ms >= 0) ::usleep(10000);
    }
    ProcessResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = slurp(started.out_path);
    result.err = slurp(started.err_path);
    if (killed) result.err += "\n[killed after " + std::to_string(timeout_ms) + " ms]";
    std::filesystem::remove(started.out_path);
    std::filesystem::remove(started.err_path);
    started.pid = -1;
    return result;
}

inline ProcessResult run_process(const std::vector<std::string>& argv) {
    StartedProcess started = start_process(argv);
    return finish_process(started);
}

}  // namespace statestream::test
