// engine/batch/input_list and engine/batch/shard: what a batch takes from folders and
// manifests, in which order, where each output goes, and how --shard I/N splits the list.

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>


#include "engine/batch/input_list.hpp"
#include "engine/batch/shard.hpp"
#include "tests/support/scratch_dir.hpp"

using namespace statestream::engine::batch;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const char* name) { return statestream::test::fresh_scratch_dir("batch-inputs", name); }

// Listing never opens a file, so any bytes will do.
void touch(const fs::path& path, const std::string& text = "x") {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << text;
}

std::vector<std::string> relatives(const InputList& list) {
    std::vector<std::string> names;
    for (const auto& item : list.items) names.push_back(item.relative.generic_string());
    return names;
}

}  // namespace

TEST_CASE("Batch inputs: a folder is searched recursively for audio files, sorted by path",
          "[engine][batch]") {
    const fs::path dir = scratch("folder");
    const fs::path in = dir / "in";
    touch(in / "zeta.wav");
    touch(in / "Alpha.FLAC");  // extensions match in any case; byte order puts 'A' before 'z'
    touch(in / "sub" / "deeper" / "talk.ogg");
    touch(in / "sub" / "b.aif");
    touch(in / "notes.txt");                // not audio
    touch(in / "sub" / "x.wav.partial");    // an unfinished output of an earlier run
    touch(in / ".hidden.wav");              // dot-files and dot-folders are skipped
    touch(in / ".git" / "objects.wav");
    touch(in / "raw.raw");                  // headerless: libsndfile cannot open it unaided
    touch(in / "out" / "enhanced.wav");     // the output folder, inside the input folder

    const InputList list = collect_inputs({{in.string()}, {}, in / "out"});
    CHECK(relatives(list) ==
          std::vector<std::string>{"Alpha.FLAC", "sub/b.aif", "sub/deeper/talk.ogg", "zeta.wav"});
    CHECK(list.common_folder == fs::absolute(in).lexically_normal());
    CHECK(list.items.front().bytes == 1);
    fs::remove_all(dir);
}

TEST_CASE("Batch inputs: outputs mirror the tree below the inputs' common folder", "[engine][batch]") {
    const fs::path dir = scratch("common");
    touch(dir / "2024" / "jan" / "a.wav");
    touch(dir / "2025" / "b.wav");
    const InputList list = collect_inputs({{(dir / "2024").string(), (dir / "2025" / "b.wav").string()}, {}, {}});
    REQUIRE(relatives(list) == std::vector<std::string>{"2024/jan/a.wav", "2025/b.wav"});
    CHECK(output_path_for(list.items[0], "out", ".txt") == fs::path("out/2024/jan/a.txt"));
    CHECK(output_path_for(list.items[1], "out", ".wav") == fs::path("out/2025/b.wav"));
    fs::remove_all(dir);
}

TEST_CASE("Batch inputs: a manifest lists paths from its own folder, with comments", "[engine][batch]") {
    const fs::path dir = scratch("manifest");
    touch(dir / "audio" / "one.wav");
    touch(dir / "audio" / "two.flac");
    touch(dir / "elsewhere" / "three.wav");
    touch(dir / "audio" / "more" / "four.wav");
    // CRLF line ends, blank lines, comments, spaces around a path, a folder, a missing file.
    touch(dir / "lists" / "job.txt",
          std::string("# tonight's job\r\n../audio/one.wav\r\n\r\n  ../audio/two.flac  \n") +
              (dir / "elsewhere" / "three.wav").string() + "\n../audio/more\n../audio/gone.wav\n");
    const InputList list = collect_inputs({{std::string("@") + (dir / "lists" / "job.txt").string()}, {}, {}});
    CHECK(relatives(list) == std::vector<std::string>{"audio/gone.wav", "audio/more/four.wav", "audio/one.wav",
                                                      "audio/two.flac", "elsewhere/three.wav"});
    // The missing file stays in the list: it fails on its own, the others still run.
    CHECK(list.items.front().bytes == 0);

    const InputList same = collect_inputs({{}, {dir / "lists" / "job.txt"}, {}});
    CHECK(relatives(same) == relatives(list));
    fs::remove_all(dir);
}

TEST_CASE("Batch inputs: a file given twice counts once; clashing outputs are refused", "[engine][batch]") {
    const fs::path dir = scratch("twice");
    touch(dir / "talk.wav");
    touch(dir / "talk.flac");
    touch(dir / "other.wav");
    const InputList list =
        collect_inputs({{(dir / "talk.wav").string(), dir.string(), (dir / "." / "talk.wav").string()}, {}, {}});
    REQUIRE(relatives(list) == std::vector<std::string>{"other.wav", "talk.flac", "talk.wav"});
    const std::vector<BatchItem> distinct = {list.items[0], list.items[2]};
    CHECK_NOTHROW(require_distinct_outputs(distinct, dir / "out", ".txt"));
    // talk.flac and talk.wav would both become talk.txt.
    CHECK_THROWS_WITH(require_distinct_outputs(list.items, dir / "out", ".txt"),
                      Contains("talk.flac") && Contains("talk.wav") && Contains("would both write"));
    fs::remove_all(dir);
}

TEST_CASE("Batch inputs: what cannot be a batch is refused before any work", "[engine][batch]") {
    const fs::path dir = scratch("refused");
    touch(dir / "readme.txt");
    CHECK_THROWS_WITH(collect_inputs({{(dir / "nothing.wav").string()}, {}, {}}),
                      Contains("nothing.wav") && Contains("no such file"));
    CHECK_THROWS_WITH(collect_inputs({{dir.string()}, {}, {}}), Contains("no audio files found") && Contains(".wav"));
    CHECK_THROWS_WITH(collect_inputs({{std::string("@") + (dir / "no-list.txt").string()}, {}, {}}),
                      Contains("no-list.txt") && Contains("cannot be read"));
    fs::remove_all(dir);
}

TEST_CASE("Batch inputs: libsndfile's formats count as audio, others do not", "[engine][batch]") {
    for (const char* name : {"a.wav", "a.WAV", "a.flac", "a.ogg", "a.aiff", "a.aif", "a.opus", "a.w64"}) {
        INFO(name);
        CHECK(is_audio_extension(name));
    }
    for (const char* name : {"a.txt", "a.wav.partial", "a.raw", "a.mat", "a", "a.json"}) {
        INFO(name);
        CHECK_FALSE(is_audio_extension(name));
    }
}

TEST_CASE("Shards: I/N is parsed strictly", "[engine][batch]") {
    const Shard shard = parse_shard("3/8");
    CHECK(shard.index == 3);
    CHECK(shard.count == 8);
    for (const char* bad : {"8/8", "1/0", "3", "-1/4", "a/4", "1/4x", "", "/4", "1/"}) {
        INFO(bad);
        CHECK_THROWS_WITH(parse_shard(bad), Contains("--shard") && Contains("I/N"));
    }
}

TEST_CASE("Shards: N shards partition the list, differ in size by at most one, and stride it",
          "[engine][batch]") {
    std::vector<BatchItem> all;
    for (int i = 0; i < 23; ++i) {
        const fs::path name = fs::path("f").concat(std::to_string(i));
        all.push_back({name, name, 1});
    }
    for (std::size_t n = 1; n <= 7; ++n) {
        std::multiset<std::string> seen;
        std::size_t smallest = all.size();
        std::size_t largest = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const auto part = select_shard(all, {i, n});
            smallest = std::min(smallest, part.size());
            largest = std::max(largest, part.size());
            for (std::size_t k = 0; k < part.size(); ++k) {
                CHECK(part[k].input == all[i + k * n].input);  // every N-th, from I
                seen.insert(part[k].input.string());
            }
        }
        INFO("N = " << n);
        CHECK(seen.size() == all.size());
        CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == all.size());  // disjoint
        CHECK(largest - smallest <= 1);
    }
}
