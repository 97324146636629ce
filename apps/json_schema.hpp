#pragma once
// Every JSON document statestream prints carries "schema": "statestream.<kind>/<version>" as
// its first key, so consumers can check what they parse. Bump a kind's version whenever a field
// changes meaning or disappears; adding a field keeps the version.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace statestream::apps {

inline constexpr int kInfoSchemaVersion = 2;
inline constexpr int kDevicesSchemaVersion = 1;

// {"schema": "statestream.<kind>/<version>"}; the caller adds the rest.
[[nodiscard]] inline nlohmann::ordered_json json_document(std::string_view kind, int version) {
    nlohmann::ordered_json doc;
    doc["schema"] = "statestream." + std::string(kind) + "/" + std::to_string(version);
    return doc;
}

}  // namespace statestream::apps
