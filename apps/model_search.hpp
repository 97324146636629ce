#pragma once
// Where a subcommand finds a shipped model when --model is not given: $STATESTREAM_MODEL_DIR,
// then data/models beside the build tree the program runs from, then the installed
// share/statestream/models. Files that travel with a model (the transcriber's word LM) are
// looked for the same way.

#include <filesystem>
#include <optional>
#include <string_view>

namespace statestream::apps {

// Thread: main. The first existing `file_name` among those places; throws BadInputError that
// lists the places looked in and says to pass --model.
[[nodiscard]] std::filesystem::path find_shipped_model(std::string_view file_name);

// Thread: main. The first existing `file_name` in `first_dir` (when not empty), then among
// those places; nothing when there is none.
[[nodiscard]] std::optional<std::filesystem::path> find_shipped_file(
    std::string_view file_name, const std::filesystem::path& first_dir = {});

}  // namespace statestream::apps
