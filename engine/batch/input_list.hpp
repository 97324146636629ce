#pragma once
// The files a batch works on, in one order every machine agrees on. Inputs are files,
// folders (searched recursively for the audio extensions libsndfile reads) and manifests (one
// path per line). Every file is named by its path below the inputs' deepest common folder;
// the output tree mirrors that path under --out, and the list is sorted by it (byte order), so
// the same command lists the same files in the same order on any machine, whatever order the
// file system returns a folder in. `--shard I/N` (shard.hpp) picks from this order.

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace statestream::engine::batch {

// An input the user can fix (a missing argument, an unreadable manifest, two inputs that would
// write the same output); the command exits 2 with it before any file is processed.
class BatchInputError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct BatchItem {
    std::filesystem::path input;     // absolute, lexically normal
    std::filesystem::path relative;  // below the common folder: what the output mirrors
    std::uint64_t bytes = 0;         // size when listed, for scheduling and the ETA; 0 if missing
};

struct InputList {
    std::vector<BatchItem> items;     // sorted by relative (generic form, byte order), no repeats
    std::filesystem::path common_folder;
};

struct InputSpec {
    std::vector<std::string> paths;                 // files and folders
    std::vector<std::filesystem::path> manifests;   // one path per line
    // A folder never searched (the output folder, when it lies inside an input folder: a rerun
    // must not take last night's outputs for inputs).
    std::filesystem::path exclude_folder;
};

// Thread: setup (reads folders and manifests). A manifest line is a file or folder path;
// blank lines and lines starting with '#' are skipped, and a relative path is taken from the
// manifest's own folder, so a manifest moves with the tree it lists. Folder searches skip
// names starting with '.', follow no folder symlinks (no loops) and take regular files (or
// links to them) whose extension is_audio_extension. A manifest line that names no existing
// file stays in the list (bytes 0): it fails on its own when processed, as any unreadable file
// does. Throws BatchInputError for a command-line path that does not exist, a manifest that
// cannot be read, or nothing to do at all.
[[nodiscard]] InputList collect_inputs(const InputSpec& spec);

// Thread: any. True when libsndfile knows the extension (case-insensitive, with the dot:
// ".wav", ".FLAC"), or it is one of its formats' other common names (".aif", ".ogg", ".opus",
// ".mp3"). Not taken: headerless ".raw" (libsndfile cannot open it without being told its
// format) and ".mat" (usually MATLAB data, not sound).
[[nodiscard]] bool is_audio_extension(const std::filesystem::path& path);

// Thread: any. Every extension is_audio_extension takes, sorted, for messages and docs.
[[nodiscard]] const std::vector<std::string>& audio_extensions();

// Thread: any. out_folder / relative with its extension replaced (".wav", ".txt").
[[nodiscard]] std::filesystem::path output_path_for(const BatchItem& item,
                                                    const std::filesystem::path& out_folder,
                                                    std::string_view extension);

// Thread: setup. Throws BatchInputError naming both inputs when two items would write the same
// output (talk.wav and talk.flac in one folder both become talk.txt).
void require_distinct_outputs(const std::vector<BatchItem>& items,
                              const std::filesystem::path& out_folder, std::string_view extension);

}  // namespace statestream::engine::batch
