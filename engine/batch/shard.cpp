#include "engine/batch/shard.hpp"

#include <charconv>

#include <fmt/core.h>

namespace statestream::engine::batch {

namespace {

bool parse_count(std::string_view text, std::size_t& value) {
    if (text.empty()) return false;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

Shard parse_shard(std::string_view text) {
    const auto slash = text.find('/');
    Shard shard;
    if (slash == std::string_view::npos || !parse_count(text.substr(0, slash), shard.index) ||
        !parse_count(text.substr(slash + 1), shard.count) || shard.count == 0 ||
        shard.index >= shard.count) {
        throw BatchInputError(fmt::format(
            "--shard '{}': expected I/N with 0 <= I < N, e.g. 0/4 .. 3/4 for four machines (in a "
            "Slurm array: --shard ${{SLURM_ARRAY_TASK_ID}}/${{SLURM_ARRAY_TASK_COUNT}})", text));
    }
    return shard;
}

std::vector<BatchItem> select_shard(const std::vector<BatchItem>& all, Shard shard) {
    std::vector<BatchItem> picked;
    for (std::size_t i = shard.index; i < all.size(); i += shard.count) picked.push_back(all[i]);
    return picked;
}

}  // namespace statestream::engine::batch
