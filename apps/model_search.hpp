#pragma once
// Where a subcommand finds a shipped model when --model is not given: $STATESTREAM_MODEL_DIR,
// then data/models beside the build tree the program runs from, then the installed
// share/statestream/models.

#include <filesystem>
#include <string_view>

namespace statestream::apps {

// Thread: main. The first existing `file_name` among those places; throws BadInputError that
// lists the places looked in and says to pass --model.
[[nodiscard]] std::filesystem::path find_shipped_model(std::string_view file_name);

}  // namespace statestream::apps
