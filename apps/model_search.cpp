#include "apps/model_search.hpp"

#include <cstdlib>
#include <system_error>
#include <vector>

#include <fmt/core.h>

#include "apps/exit_code.hpp"

namespace statestream::apps {

namespace {

std::filesystem::path executable_dir() {
    std::error_code error;
    const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
    return error ? std::filesystem::path{} : self.parent_path();
}

std::vector<std::filesystem::path> shipped_places() {
    std::vector<std::filesystem::path> places;
    if (const char* dir = std::getenv("STATESTREAM_MODEL_DIR"); dir != nullptr && *dir != '\0') {
        places.emplace_back(dir);
    }
    const std::filesystem::path exe_dir = executable_dir();
    if (!exe_dir.empty()) {
        places.push_back(exe_dir / ".." / ".." / "data" / "models");  // build/<preset>/statestream
        places.push_back(exe_dir / ".." / "share" / "statestream" / "models");  // <prefix>/bin
    }
    return places;
}

}  // namespace

std::optional<std::filesystem::path> find_shipped_file(std::string_view file_name,
                                                       const std::filesystem::path& first_dir) {
    std::vector<std::filesystem::path> places = shipped_places();
    if (!first_dir.empty()) places.insert(places.begin(), first_dir);
    for (const auto& place : places) {
        const std::filesystem::path candidate = place / file_name;
        std::error_code error;
        if (std::filesystem::is_regular_file(candidate, error)) return candidate.lexically_normal();
    }
    return std::nullopt;
}

std::filesystem::path find_shipped_model(std::string_view file_name) {
    const std::vector<std::filesystem::path> places = shipped_places();
    std::string looked;
    for (const auto& place : places) {
        const std::filesystem::path candidate = place / file_name;
        std::error_code error;
        if (std::filesystem::is_regular_file(candidate, error)) {
            return candidate.lexically_normal();
        }
        looked += fmt::format("\n  {}", candidate.lexically_normal().string());
    }
    throw BadInputError(fmt::format("no {} found; looked in:{}\ngive --model PATH, or set "
                                    "STATESTREAM_MODEL_DIR to the folder that holds it",
                                    file_name, looked));
}

}  // namespace statestream::apps
