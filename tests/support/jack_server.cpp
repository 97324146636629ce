#include "tests/support/jack_server.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <jack/jack.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace statestream::test {

namespace {

// jack2 on Linux keeps its server sockets and semaphores in this directory (compiled in; it is
// what `jackd --version` prints as "tmpdir"). Only a SIGKILLed server leaves files there.
constexpr const char* kJackTmpDir = "/dev/shm";

// How often start-up and shutdown look at the child again: short against jackd's ~0.25 s
// start-up, long enough not to busy the second core.
constexpr std::chrono::milliseconds kPollInterval{20};

std::string unique_server_name() {
    static std::atomic<std::uint32_t> counter{0};
    std::random_device entropy;
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "%08x", static_cast<unsigned>(entropy()));
    return "ss_" + std::to_string(::getpid()) + "_" +
           std::to_string(counter.fetch_add(1, std::memory_order_relaxed)) + "_" + suffix;
}

std::string find_on_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
    for (std::string dir; std::getline(dirs, dir, ':');) {
        if (dir.empty()) continue;
        const std::string candidate = dir + "/" + program;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    throw std::runtime_error(program + " not found on PATH: run scripts/setup.sh (Debian package "
                             "jackd2) to install the JACK server the engine tests start.");
}

// libjack reports a refused connection with several lines on stderr; while start-up polls a
// server that is not listening yet, each poll would print them. Quiet for the probe only.
void discard_jack_message(const char*) {}
void print_jack_message(const char* message) { std::fprintf(stderr, "jack: %s\n", message); }

class QuietJackErrors {
public:
    QuietJackErrors() { jack_set_error_function(&discard_jack_message); }
    // libjack has no getter for the previous handler; this one prints as its default does.
    ~QuietJackErrors() { jack_set_error_function(&print_jack_message); }
    QuietJackErrors(const QuietJackErrors&) = delete;
    QuietJackErrors& operator=(const QuietJackErrors&) = delete;
};

// Owns argv/envp strings for execve, built before fork: between fork and exec the child may
// only make async-signal-safe calls, so nothing may allocate there.
struct ExecArguments {
    std::vector<std::string> storage;
    std::vector<char*> argv;
    std::vector<char*> envp;
};

ExecArguments build_exec_arguments(const std::string& program, const std::string& name,
                                   const JackServerConfig& config) {
    ExecArguments exec;
    const std::vector<std::string> args = {program, "--no-realtime", "-n", name,
                                           "-d", "dummy", "-r", std::to_string(config.rate_hz),
                                           "-p", std::to_string(config.period_frames)};
    std::vector<std::string> env;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        if (std::strncmp(*entry, "JACK_NO_AUDIO_RESERVATION=", 26) != 0) env.emplace_back(*entry);
    }
    // jackd can ask the D-Bus session bus to reserve an audio card. The dummy driver starts
    // the same without this here; it is set so no jackd build waits on a bus a test machine
    // may lack.
    env.emplace_back("JACK_NO_AUDIO_RESERVATION=1");

    exec.storage.reserve(args.size() + env.size());
    for (const auto& arg : args) exec.storage.push_back(arg);
    for (const auto& var : env) exec.storage.push_back(var);
    for (std::size_t i = 0; i < args.size(); ++i) exec.argv.push_back(exec.storage[i].data());
    exec.argv.push_back(nullptr);
    for (std::size_t i = args.size(); i < exec.storage.size(); ++i) {
        exec.envp.push_back(exec.storage[i].data());
    }
    exec.envp.push_back(nullptr);
    return exec;
}

bool reap(pid_t pid, int options, int& status) noexcept {
    for (;;) {
        const pid_t got = ::waitpid(pid, &status, options);
        if (got == pid) return true;
        if (got == -1 && errno == EINTR) continue;
        return false;  // still running (WNOHANG), or not our child any more
    }
}

std::string jack_status_text(jack_status_t status) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%x", static_cast<unsigned>(status));
    return hex;
}

std::string describe_exit(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("was killed by ") + strsignal(WTERMSIG(status));
    return "stopped";
}

}  // namespace

JackServer::JackServer(const JackServerConfig& config)
    : config_(config),
      name_(unique_server_name()),
      output_path_(std::filesystem::temp_directory_path() / ("statestream-" + name_ + ".log")) {
    try {
        spawn();
        wait_until_accepting_clients();
    } catch (...) {
        terminate(config_.stop_timeout);
        std::error_code ignored;
        std::filesystem::remove(output_path_, ignored);
        throw;
    }
}

JackServer::~JackServer() {
    if (pid_ >= 0 && !terminate(config_.stop_timeout)) registry_slot_leaked_ = true;
    if (registry_slot_leaked_) reclaim_registry_slot();
    std::error_code ignored;
    std::filesystem::remove(output_path_, ignored);
}

void JackServer::spawn() {
    const std::string program = find_on_path("jackd");
    ExecArguments exec = build_exec_arguments(program, name_, config_);
    const int output_fd =
        ::open(output_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (output_fd < 0) {
        throw std::system_error(errno, std::generic_category(),
                                "JackServer: cannot create " + output_path_.string());
    }
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const pid_t parent = ::getpid();

    const pid_t child = ::fork();
    if (child == 0) {
        // Child: async-signal-safe calls only until execve.
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(126);  // the parent died before prctl took effect
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
        ::dup2(output_fd, STDOUT_FILENO);
        ::dup2(output_fd, STDERR_FILENO);
        // The test's own JACK client sockets must not live on in the server.
        ::close_range(3, ~0U, 0);
        ::execve(exec.argv[0], exec.argv.data(), exec.envp.data());
        ::_exit(127);
    }
    const int fork_errno = errno;
    ::close(output_fd);
    if (null_fd >= 0) ::close(null_fd);
    if (child < 0) {
        throw std::system_error(fork_errno, std::generic_category(), "JackServer: fork failed");
    }
    pid_ = child;
}

void JackServer::wait_until_accepting_clients() {
    const QuietJackErrors quiet;
    const auto deadline = std::chrono::steady_clock::now() + config_.start_timeout;
    for (;;) {
        if (!running()) {
            const std::string text = output();
            std::string hint;
            if (text.find("Too many servers already active") != std::string::npos) {
                hint = "JACK's registry (jack-shm-registry in " + std::string(kJackTmpDir) +
                       ") has 8 server slots per user, and a jackd killed with SIGKILL keeps its "
                       "slot until a server of the same name starts again. Stop every jackd "
                       "and delete that file to free them all.\n";
            }
            throw std::runtime_error("jackd -n " + name_ + " " + describe_exit(*exit_status_) +
                                     " before it accepted clients. " + hint + "Its output:\n" +
                                     text);
        }
        jack_status_t status{};
        jack_client_t* probe = jack_client_open(
            "ss_probe", static_cast<jack_options_t>(JackNoStartServer | JackServerName), &status,
            name_.c_str());
        if (probe != nullptr) {
            jack_client_close(probe);
            return;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            throw std::runtime_error(
                "jackd -n " + name_ + " did not accept clients within " +
                std::to_string(config_.start_timeout.count()) +
                " ms (last jack_client_open status " + jack_status_text(status) +
                "). Its output:\n" + output());
        }
        std::this_thread::sleep_for(kPollInterval);
    }
}

bool JackServer::running() {
    if (pid_ < 0) return false;
    int status = 0;
    if (!reap(pid_, WNOHANG, status)) return true;
    exit_status_ = status;
    pid_ = -1;
    return false;
}

void JackServer::kill_now() {
    if (pid_ < 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    if (reap(pid_, 0, status)) exit_status_ = status;
    pid_ = -1;
    remove_leftover_files();
    registry_slot_leaked_ = true;
}

bool JackServer::terminate(std::chrono::milliseconds timeout) noexcept {
    if (pid_ < 0) return true;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (!reap(pid_, WNOHANG, status)) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid_, SIGKILL);
            if (reap(pid_, 0, status)) exit_status_ = status;
            pid_ = -1;
            remove_leftover_files();
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    exit_status_ = status;
    pid_ = -1;
    return true;
}

void JackServer::reclaim_registry_slot() noexcept {
    // jackd gives a dead server's registry slot to the next server that registers under the
    // same name, and a server stopped by SIGTERM releases its slot. So: start one more under
    // this name and stop it cleanly. Readiness is the server socket appearing in the tmpdir,
    // not a client: clients of this process may still hold the killed server's state.
    try {
        spawn();
        const std::string socket_prefix = "jack_" + name_ + "_";
        const auto deadline = std::chrono::steady_clock::now() + config_.start_timeout;
        bool listening = false;
        while (!listening && running() && std::chrono::steady_clock::now() < deadline) {
            std::error_code error;
            std::filesystem::directory_iterator entry(kJackTmpDir, error);
            for (; !error && entry != std::filesystem::directory_iterator();
                 entry.increment(error)) {
                if (entry->path().filename().string().rfind(socket_prefix, 0) == 0) {
                    listening = true;
                }
            }
            if (!listening) std::this_thread::sleep_for(kPollInterval);
        }
        if (listening && terminate(config_.stop_timeout)) return;  // it released the slot
        terminate(config_.stop_timeout);  // never came up, or would not stop: give up
        std::fprintf(stderr,
                     "JackServer: could not free the JACK registry slot of killed server %s; "
                     "8 such slots per user stop new servers from starting. Output:\n%s\n",
                     name_.c_str(), output().c_str());
    } catch (const std::exception& error) {
        std::fprintf(stderr, "JackServer: could not free the JACK registry slot of %s: %s\n",
                     name_.c_str(), error.what());
    }
}

void JackServer::remove_leftover_files() const noexcept {
    // A killed jackd leaves its socket (jack_<name>_<uid>_0) and its semaphores
    // (jack_sem.<uid>_<name>_<client>). The names hold our unique server name, so nothing of
    // another server matches. Its shared-memory segments (jack-<uid>-<n>) are listed in
    // JACK's registry by owner pid; the next jackd to start frees those of dead owners.
    const std::string needle = "_" + name_ + "_";
    std::error_code error;
    std::filesystem::directory_iterator entry(kJackTmpDir, error);
    for (; !error && entry != std::filesystem::directory_iterator(); entry.increment(error)) {
        const std::string file = entry->path().filename().string();
        std::error_code ignored;
        if (file.rfind("jack", 0) == 0 && file.find(needle) != std::string::npos) {
            std::filesystem::remove(entry->path(), ignored);
        }
    }
}

std::string JackServer::output() const {
    std::ifstream in(output_path_);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

ScopedDefaultJackServer::ScopedDefaultJackServer(const std::string& server_name) {
    if (const char* previous = std::getenv("JACK_DEFAULT_SERVER")) previous_ = previous;
    ::setenv("JACK_DEFAULT_SERVER", server_name.c_str(), 1);
}

ScopedDefaultJackServer::~ScopedDefaultJackServer() {
    if (previous_) {
        ::setenv("JACK_DEFAULT_SERVER", previous_->c_str(), 1);
    } else {
        ::unsetenv("JACK_DEFAULT_SERVER");
    }
}

}  // namespace statestream::test
