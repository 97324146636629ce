#pragma once
// The one error type of model loading. Its message always starts with the file it is about and
// says what is wrong and how to fix it; the CLI prints it as is and exits with code 2.

#include <stdexcept>
#include <string>

namespace statestream::models {

class ModelFileError : public std::runtime_error {
public:
    // `source` is the path (or a name for in-memory bytes); `problem` says what and how to fix.
    ModelFileError(const std::string& source, const std::string& problem)
        : std::runtime_error(source + ": " + problem), source_(source) {}

    [[nodiscard]] const std::string& source() const noexcept { return source_; }

private:
    std::string source_;
};

}  // namespace statestream::models
