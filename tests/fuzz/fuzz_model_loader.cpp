// libFuzzer target: arbitrary bytes through the whole model loader (container, metadata,
// schema, values). Any input must end in a ModelFile or a ModelFileError; a crash, a sanitizer
// report or any other exception is a bug.

#include <cstddef>
#include <cstdint>

#include "models/aligned_bytes.hpp"
#include "models/model_file.hpp"
#include "models/model_file_error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A mapped file starts page-aligned; libFuzzer's buffer need not be.
    const statestream::models::AlignedCopy aligned({reinterpret_cast<const std::byte*>(data), size});
    try {
        const auto model = statestream::models::ModelFile::parse(aligned.bytes(), "fuzz-input");
        (void)model.parameter_count();
    } catch (const statestream::models::ModelFileError&) {
    }
    return 0;
}
