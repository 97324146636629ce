#pragma once
// Golden fixtures (data/fixtures/*.safetensors, written by models/train/make_fixtures.py):
// F64 tensors read into doubles, and the agreement measure the SSM issue defines.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/mapped_file.hpp"
#include "models/safetensors_file.hpp"

namespace statestream::test {

class FixtureFile {
public:
    explicit FixtureFile(const std::filesystem::path& path)
        : mapping_(path), view_(models::SafetensorsView::parse(mapping_.bytes(), path.string())) {}

    [[nodiscard]] std::vector<double> doubles(const std::string& name) const {
        const auto* record = view_.find(name);
        if (record == nullptr || record->dtype != models::DType::kF64) {
            throw std::runtime_error("fixture has no F64 tensor '" + name + "'");
        }
        std::vector<double> out(record->element_count);
        std::memcpy(out.data(), record->bytes.data(), record->bytes.size());
        return out;
    }
    [[nodiscard]] std::vector<float> floats(const std::string& name) const {
        const auto d = doubles(name);
        return {d.begin(), d.end()};
    }

private:
    models::MappedFile mapping_;
    models::SafetensorsView view_;
};

// max|got - want| / max(max|want|, floor): the relative error the fixtures are judged by, with
// an absolute floor so an all-near-zero reference does not turn rounding into a failure.
template <typename A, typename B>
double relative_error(const A& got, const B& want, double floor = 1e-3) {
    if (got.size() != want.size()) return INFINITY;
    double worst = 0.0;
    double scale = floor;
    for (std::size_t i = 0; i < want.size(); ++i) {
        const double w = static_cast<double>(want[i]);
        const double g = static_cast<double>(got[i]);
        if (!std::isfinite(g)) return INFINITY;
        worst = std::max(worst, std::abs(g - w));
        scale = std::max(scale, std::abs(w));
    }
    return worst / scale;
}

}  // namespace statestream::test
