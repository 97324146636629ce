#pragma once
// The golden fixture's small random enhancer (data/fixtures/enhancer_fixture.safetensors, written
// by models/train/enhance/make_enhancer_fixture.py), loaded once per test program: its gains
// vary widely, so a wrong operation shows, and it is quick under the sanitizers.

#include <filesystem>

#include "models/model_file.hpp"
#include "models/ssm_model.hpp"

namespace statestream::test {

inline const models::SsmModel& enhancer_fixture_model() {
    struct Loaded {
        models::ModelFile file = models::ModelFile::load(
            std::filesystem::path(STATESTREAM_DATA_DIR) / "fixtures" / "enhancer_fixture.safetensors");
        models::SsmModel model{file};
    };
    static const Loaded loaded;
    return loaded.model;
}

}  // namespace statestream::test
