#include "apps/forecast_plot.hpp"

#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <vector>

#include <fmt/core.h>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace statestream::apps {

namespace {

// Debian's interpreter, where apt puts python3-matplotlib; a python3 earlier on PATH (a
// virtual environment, pyenv) often lacks it.
constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kScriptName = "plot_forecast.py";

std::filesystem::path executable_dir() {
    std::error_code error;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
    return error ? std::filesystem::path{} : self.parent_path();
}

// Runs python3 with `args`, its stdout onto our stderr; returns the wait status.
int run_python(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kPython};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> pointers;
    for (auto& arg : argv) pointers.push_back(arg.data());
    pointers.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
    pid_t pid = -1;
    const int spawned = posix_spawn(&pid, kPython, &actions, nullptr, pointers.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
        throw std::runtime_error(fmt::format("--plot: cannot start {}: {}; install Debian's python3 "
                                             "and python3-matplotlib (scripts/setup.sh), or leave out --plot",
                                             kPython, std::generic_category().message(spawned)));
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) throw std::runtime_error("--plot: lost the plotting process");
    }
    return status;
}

std::string status_text(int status) {
    if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return fmt::format("signal {}", WTERMSIG(status));
    return "an unknown status";
}

}  // namespace

std::filesystem::path check_plot_tools() {
    const std::filesystem::path exe_dir = executable_dir();
    std::vector<std::filesystem::path> places;
    if (!exe_dir.empty()) {
        places.push_back(exe_dir / ".." / ".." / "scripts");  // build/<preset>/statestream
        places.push_back(exe_dir / ".." / "share" / "statestream" / "scripts");  // <prefix>/bin
    }
    std::filesystem::path script;
    std::string looked;
    for (const auto& place : places) {
        std::error_code error;
        if (std::filesystem::is_regular_file(place / kScriptName, error)) {
            script = (place / kScriptName).lexically_normal();
            break;
        }
        looked += "\n  " + (place / kScriptName).lexically_normal().string();
    }
    if (script.empty()) {
        throw std::runtime_error(fmt::format("--plot: no {} found; looked in:{}\nrun the program from "
                                             "its build tree or installation, or leave out --plot",
                                             kScriptName, looked));
    }
    if (::access(kPython, X_OK) != 0) {
        throw std::runtime_error(fmt::format("--plot needs {} with matplotlib; install Debian's python3 "
                                             "and python3-matplotlib (scripts/setup.sh), or leave out --plot",
                                             kPython));
    }
    // The script's own check: it says what is missing on stderr when matplotlib is not there.
    const int status = run_python({script.string(), "--check"});
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error(fmt::format("--plot: {} cannot draw ({}); install python3-matplotlib "
                                             "(scripts/setup.sh), or leave out --plot",
                                             script.string(), status_text(status)));
    }
    return script;
}

void draw_forecast_plot(const std::filesystem::path& script, const ForecastPlotRequest& request) {
    std::vector<std::string> args = {script.string(), request.forecast_csv.string(), "--stream",
                                     request.stream_id, "--horizon", request.horizons, "--output",
                                     request.png.string()};
    if (!request.ticks.empty()) {
        args.push_back("--ticks");
        args.push_back(request.ticks.string());
    }
    const int status = run_python(args);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error(fmt::format("--plot: {} failed ({}); the forecasts themselves were "
                                             "written", script.string(), status_text(status)));
    }
}

}  // namespace statestream::apps
