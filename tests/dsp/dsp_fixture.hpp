#pragma once
// data/fixtures/dsp_features.safetensors: feature reference values from an independent
// numpy/scipy implementation of docs/features.md (models/train/make_dsp_fixtures.py).

#include <filesystem>

#include "tests/support/fixture_file.hpp"

namespace statestream::test {

inline const FixtureFile& dsp_fixture() {
    static const FixtureFile file(std::filesystem::path(STATESTREAM_DATA_DIR) / "fixtures" /
                                  "dsp_features.safetensors");
    return file;
}

}  // namespace statestream::test
