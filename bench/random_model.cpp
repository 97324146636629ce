#include "bench/random_model.hpp"

#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include <nlohmann/json.hpp>

#include "models/tensor_schema.hpp"

namespace statestream::bench {

namespace {

nlohmann::json layer_json(const models::LayerSpec& layer) {
    switch (layer.type) {
        case models::BlockType::kMamba2: {
            const auto& s = layer.mamba2;
            return {{"type", "mamba2"}, {"d_state", s.d_state}, {"head_dim", s.head_dim},
                    {"expand", s.expand}, {"d_conv", s.d_conv}, {"n_groups", s.n_groups}};
        }
        case models::BlockType::kMamba3: {
            const auto& s = layer.mamba3;
            return {{"type", "mamba3"}, {"d_state", s.d_state}, {"head_dim", s.head_dim},
                    {"expand", s.expand}, {"n_groups", s.n_groups}, {"mimo_rank", s.mimo_rank}};
        }
        case models::BlockType::kMamba1: {
            const auto& s = layer.mamba1;
            return {{"type", "mamba1"}, {"d_state", s.d_state}, {"expand", s.expand},
                    {"d_conv", s.d_conv}, {"dt_rank", s.dt_rank}};
        }
        case models::BlockType::kWindowAttention: {
            const auto& s = layer.attention;
            return {{"type", "attention"}, {"n_heads", s.n_heads}, {"head_dim", s.head_dim},
                    {"window", s.window}};
        }
    }
    return {};
}

bool ends_with(const std::string& s, const char* suffix) {
    const std::size_t n = std::strlen(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// Values a freshly initialised model would hold, by the tensor's role.
void fill(const models::ExpectedTensor& t, std::vector<float>& out, std::mt19937& rng) {
    std::uint64_t count = 1;
    for (const auto d : t.shape) count *= d;
    std::uniform_real_distribution<float> unit(0.0f, 1.0f);
    const float fan_in = t.shape.size() == 2 ? static_cast<float>(t.shape[1]) : 1.0f;
    for (std::uint64_t i = 0; i < count; ++i) {
        const float r = unit(rng);
        float v;
        if (ends_with(t.name, "A_log")) v = std::log(1.0f + 15.0f * r);
        else if (ends_with(t.name, "dt_bias") || ends_with(t.name, "dt_proj.bias")) {
            const float dt = std::exp(std::log(1e-3f) + r * (std::log(0.1f) - std::log(1e-3f)));
            v = dt + std::log(-std::expm1(-dt));
        } else if (ends_with(t.name, "norm.weight") || ends_with(t.name, "_bias") ||
                   ends_with(t.name, "D") || ends_with(t.name, "mimo_x") || ends_with(t.name, "mimo_o")) {
            v = 0.8f + 0.4f * r;
        } else {
            const float bound = 1.0f / std::sqrt(fan_in);
            v = (2.0f * r - 1.0f) * bound;
        }
        out.push_back(v);
    }
}

}  // namespace

std::string architecture_json(const models::Architecture& architecture) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& layer : architecture.layers) layers.push_back(layer_json(layer));
    const nlohmann::json arch{{"input_dim", architecture.input_dim}, {"d_model", architecture.d_model},
                              {"output_dim", architecture.output_dim},
                              {"norm_eps", architecture.norm_eps}, {"layers", layers}};
    return arch.dump();
}

std::vector<std::byte> random_model_bytes(const models::Architecture& architecture,
                                          std::uint64_t seed) {
    std::mt19937 rng(static_cast<std::uint32_t>(seed));
    nlohmann::json header;
    header["__metadata__"] = {{"format_version", "1"}, {"task", "test"},
                              {"frontend", R"({"type": "none"})"}, {"architecture", architecture_json(architecture)},
                              {"recipe", R"({"name": "bench-random", "seed": )" + std::to_string(seed) + "}"}};
    std::vector<float> data;
    std::uint64_t offset = 0;
    for (const auto& t : models::expected_tensors(architecture)) {
        const std::size_t before = data.size();
        fill(t, data, rng);
        const std::uint64_t bytes = (data.size() - before) * 4;
        header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    while ((8 + text.size()) % 8 != 0) text.push_back(' ');
    std::vector<std::byte> out(8 + text.size() + offset);
    const std::uint64_t length = text.size();
    for (int i = 0; i < 8; ++i) out[i] = static_cast<std::byte>((length >> (8 * i)) & 0xFF);
    std::memcpy(out.data() + 8, text.data(), text.size());
    std::memcpy(out.data() + 8 + text.size(), data.data(), offset);
    return out;
}

}  // namespace statestream::bench
