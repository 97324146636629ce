#pragma once
// A fresh, empty folder for one test case under the system's temporary directory. The process
// id is in the name, so two test programs (or two ctest runs) at once never share a folder; a
// folder left by an earlier, crashed run of the same name is emptied first.

#include <filesystem>
#include <string>
#include <string_view>

#include <unistd.h>

namespace statestream::test {

// Thread: the test's. "<tmp>/statestream-<program>-<pid>-<name>", created empty.
inline std::filesystem::path fresh_scratch_dir(std::string_view program, std::string_view name) {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() /
        ("statestream-" + std::string(program) + "-" + std::to_string(::getpid()) + "-" + std::string(name));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

}  // namespace statestream::test
