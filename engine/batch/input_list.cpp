#include "engine/batch/input_list.hpp"

#include <sndfile.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <system_error>

#include <fmt/core.h>

namespace statestream::engine::batch {

namespace {

namespace fs = std::filesystem;

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::vector<std::string> list_audio_extensions() {
    std::set<std::string> names;
    int count = 0;
    sf_command(nullptr, SFC_GET_FORMAT_MAJOR_COUNT, &count, sizeof count);
    for (int i = 0; i < count; ++i) {
        SF_FORMAT_INFO info{};
        info.format = i;
        if (sf_command(nullptr, SFC_GET_FORMAT_MAJOR, &info, sizeof info) != 0) continue;
        if (info.extension == nullptr) continue;
        std::string name = ".";  // appended, not "." + lower(...): GCC 12's -Wrestrict misfires there
        name += lower(info.extension);
        names.insert(std::move(name));
    }
    names.erase(".raw");  // headerless: libsndfile opens it only when told the format
    // MATLAB's own data files far outnumber MAT4/MAT5 sound files in the folders people keep;
    // taken by a folder search, each would fail. A .mat sound file can still be named directly.
    names.erase(".mat");
    // Names in common use for formats libsndfile reads under another extension (libsndfile
    // 1.2 calls Ogg "oga", MPEG audio "m1a" and AU "au"): AIFF, Ogg Vorbis and Opus, MP3, AU,
    // NIST Sphere.
    for (const char* alias : {".aif", ".aifc", ".ogg", ".oga", ".opus", ".mp3", ".snd", ".sph"}) {
        names.insert(alias);
    }
    return {names.begin(), names.end()};
}

fs::path absolute_normal(const fs::path& path) {
    std::error_code ec;
    fs::path absolute = fs::absolute(path, ec);
    if (ec) absolute = path;
    return absolute.lexically_normal();
}

// Folder paths compare equal only when both are lexically normal and without a trailing
// separator.
fs::path folder_key(const fs::path& path) {
    fs::path normal = absolute_normal(path);
    if (!normal.has_filename() && normal.has_parent_path() && normal != normal.root_path()) {
        normal = normal.parent_path();
    }
    return normal;
}

bool hidden(const fs::path& path) {
    const std::string name = path.filename().string();
    return !name.empty() && name.front() == '.';
}

struct Found {
    fs::path path;     // absolute, lexically normal
    fs::path base;     // the folder the user named (or the file's own folder)
};

void search_folder(const fs::path& folder, const fs::path& exclude, std::vector<Found>& found) {
    std::error_code ec;
    fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec);
    if (ec) {
        throw BatchInputError(fmt::format("'{}': cannot list the folder ({})", folder.string(), ec.message()));
    }
    for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
        if (ec) {
            throw BatchInputError(fmt::format("'{}': cannot list the folder ({})", folder.string(),
                                              ec.message()));
        }
        const fs::path path = it->path();
        if (hidden(path)) {
            if (it->is_directory(ec)) it.disable_recursion_pending();
            continue;
        }
        if (it->is_directory(ec)) {
            if (!exclude.empty() && folder_key(path) == exclude) it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file(ec) && is_audio_extension(path)) {
            found.push_back({absolute_normal(path), folder_key(folder)});
        }
    }
}

void add_path(const fs::path& path, const fs::path& relative_to, const fs::path& exclude,
              bool missing_is_error, std::vector<Found>& found) {
    const fs::path resolved = path.is_absolute() || relative_to.empty() ? path : relative_to / path;
    std::error_code ec;
    const fs::file_status status = fs::status(resolved, ec);
    if (fs::is_directory(status)) {
        search_folder(resolved, exclude, found);
        return;
    }
    if (!fs::exists(status) && missing_is_error) {
        throw BatchInputError(fmt::format("'{}': no such file or folder", path.string()));
    }
    // A file named directly is taken whatever its extension: the user chose it.
    const fs::path absolute = absolute_normal(resolved);
    found.push_back({absolute, absolute.parent_path()});
}

void add_manifest(const fs::path& manifest, const fs::path& exclude, std::vector<Found>& found) {
    std::ifstream in(manifest);
    if (!in) {
        throw BatchInputError(fmt::format("manifest '{}': cannot be read; give a text file with one "
                                          "audio file or folder per line", manifest.string()));
    }
    const fs::path folder = absolute_normal(manifest).parent_path();
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();  // written on Windows
        const auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#') continue;
        const auto last = line.find_last_not_of(" \t");
        add_path(line.substr(first, last - first + 1), folder, exclude, false, found);
    }
}

// The deepest folder that holds every base.
fs::path common_folder_of(const std::vector<Found>& found) {
    fs::path common;
    bool first = true;
    for (const Found& f : found) {
        if (first) {
            common = f.base;
            first = false;
            continue;
        }
        fs::path shared;
        auto a = common.begin();
        auto b = f.base.begin();
        for (; a != common.end() && b != f.base.end() && *a == *b; ++a, ++b) shared /= *a;
        common = shared;
    }
    return common;
}

}  // namespace

const std::vector<std::string>& audio_extensions() {
    static const std::vector<std::string> extensions = list_audio_extensions();
    return extensions;
}

bool is_audio_extension(const fs::path& path) {
    const std::string extension = lower(path.extension().string());
    const auto& known = audio_extensions();
    return std::binary_search(known.begin(), known.end(), extension);
}

InputList collect_inputs(const InputSpec& spec) {
    const fs::path exclude = spec.exclude_folder.empty() ? fs::path() : folder_key(spec.exclude_folder);
    std::vector<Found> found;
    for (const std::string& path : spec.paths) {
        if (!path.empty() && path.front() == '@') {
            add_manifest(path.substr(1), exclude, found);
        } else {
            add_path(path, {}, exclude, true, found);
        }
    }
    for (const fs::path& manifest : spec.manifests) add_manifest(manifest, exclude, found);
    if (found.empty()) {
        std::string names;
        for (const auto& extension : audio_extensions()) names += (names.empty() ? "" : " ") + extension;
        throw BatchInputError(fmt::format("no audio files found in the inputs given (folders are "
                                          "searched for: {})", names));
    }

    InputList list;
    list.common_folder = common_folder_of(found);
    std::map<std::string, BatchItem> by_relative;  // sorted, and a file found twice counts once
    for (const Found& f : found) {
        BatchItem item;
        item.input = f.path;
        item.relative = f.path.lexically_relative(list.common_folder);
        std::error_code ec;
        const auto bytes = fs::file_size(f.path, ec);
        item.bytes = ec ? 0 : bytes;
        by_relative.emplace(item.relative.generic_string(), std::move(item));
    }
    for (auto& [key, item] : by_relative) list.items.push_back(std::move(item));
    return list;
}

fs::path output_path_for(const BatchItem& item, const fs::path& out_folder, std::string_view extension) {
    fs::path relative = item.relative;
    relative.replace_extension(extension);
    return out_folder / relative;
}

void require_distinct_outputs(const std::vector<BatchItem>& items, const fs::path& out_folder,
                              std::string_view extension) {
    std::map<fs::path, const BatchItem*> writers;
    for (const BatchItem& item : items) {
        const auto [at, inserted] = writers.emplace(output_path_for(item, out_folder, extension), &item);
        if (!inserted) {
            throw BatchInputError(fmt::format(
                "'{}' and '{}' would both write '{}'; keep one of them out of the batch (a manifest "
                "lists exactly the files to take)",
                at->second->input.string(), item.input.string(), at->first.string()));
        }
    }
}

}  // namespace statestream::engine::batch
