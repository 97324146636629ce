// `statestream info MODEL`: what a model file holds, after full validation.

#include <string>

#include <fmt/core.h>

#include "apps/json_schema.hpp"
#include "apps/subcommand.hpp"
#include "models/block_state.hpp"
#include "models/model_file.hpp"

namespace statestream::apps {

namespace {

using models::ModelFile;

std::string layer_summary(const models::LayerSpec& layer, std::uint32_t d_model) {
    switch (layer.type) {
        case models::BlockType::kMamba2: {
            const auto& s = layer.mamba2;
            const auto dims = models::mamba2_dims(s, d_model);
            return fmt::format("mamba2     d_state {}, head_dim {}, {} heads, expand {} (d_inner {}), "
                               "d_conv {}, n_groups {}",
                               s.d_state, s.head_dim, dims.n_heads, s.expand, dims.d_inner,
                               s.d_conv, s.n_groups);
        }
        case models::BlockType::kMamba3: {
            const auto& s = layer.mamba3;
            const auto dims = models::mamba3_dims(s, d_model);
            return fmt::format("mamba3     {}, d_state {}, head_dim {}, {} heads, expand {} "
                               "(d_inner {}), n_groups {}, {} rotation angles",
                               s.mimo_rank == 0 ? std::string("SISO")
                                                : fmt::format("MIMO rank {}", s.mimo_rank),
                               s.d_state, s.head_dim, dims.n_heads, s.expand, dims.d_inner,
                               s.n_groups, dims.n_angles);
        }
        case models::BlockType::kMamba1: {
            const auto& s = layer.mamba1;
            const auto dims = models::mamba1_dims(s, d_model);
            return fmt::format("mamba1     d_state {}, expand {} (d_inner {}), d_conv {}, dt_rank {}",
                               s.d_state, s.expand, dims.d_inner, s.d_conv, dims.dt_rank);
        }
        case models::BlockType::kWindowAttention: {
            const auto& s = layer.attention;
            return fmt::format("attention  {} heads x head_dim {}, window {} steps", s.n_heads,
                               s.head_dim, s.window);
        }
    }
    return "?";
}

nlohmann::ordered_json layer_json(const models::LayerSpec& layer, std::uint32_t d_model) {
    nlohmann::ordered_json j{{"type", models::block_type_name(layer.type)}};
    switch (layer.type) {
        case models::BlockType::kMamba2: {
            const auto& s = layer.mamba2;
            const auto dims = models::mamba2_dims(s, d_model);
            j.update({{"d_state", s.d_state}, {"head_dim", s.head_dim}, {"n_heads", dims.n_heads},
                      {"expand", s.expand}, {"d_inner", dims.d_inner}, {"d_conv", s.d_conv},
                      {"n_groups", s.n_groups}});
            break;
        }
        case models::BlockType::kMamba3: {
            const auto& s = layer.mamba3;
            const auto dims = models::mamba3_dims(s, d_model);
            j.update({{"d_state", s.d_state}, {"head_dim", s.head_dim}, {"n_heads", dims.n_heads},
                      {"expand", s.expand}, {"d_inner", dims.d_inner}, {"n_groups", s.n_groups},
                      {"mimo_rank", s.mimo_rank}});
            break;
        }
        case models::BlockType::kMamba1: {
            const auto& s = layer.mamba1;
            const auto dims = models::mamba1_dims(s, d_model);
            j.update({{"d_state", s.d_state}, {"expand", s.expand}, {"d_inner", dims.d_inner},
                      {"d_conv", s.d_conv}, {"dt_rank", dims.dt_rank}});
            break;
        }
        case models::BlockType::kWindowAttention: {
            const auto& s = layer.attention;
            j.update({{"n_heads", s.n_heads}, {"head_dim", s.head_dim}, {"window", s.window}});
            break;
        }
    }
    nlohmann::ordered_json state = nlohmann::ordered_json::object();
    std::uint64_t floats = 0;
    for (const auto& t : models::layer_state_tensors(layer, d_model)) {
        state[t.name] = t.shape;
        floats += t.count;
    }
    j["state"] = state;
    j["state_bytes"] = floats * 4;
    return j;
}

std::string frontend_summary(const models::FrontendSpec& f) {
    using models::FrontendType;
    switch (f.type) {
        case FrontendType::kLogMel:
        case FrontendType::kStftBands: {
            const double ms_per_sample = 1000.0 / f.sample_rate_hz;
            return fmt::format("{}: {} Hz, window {} samples ({:.1f} ms), hop {} samples "
                               "({:.1f} ms), {} bands",
                               models::frontend_type_name(f.type), f.sample_rate_hz,
                               f.window_samples, f.window_samples * ms_per_sample, f.hop_samples,
                               f.hop_samples * ms_per_sample, f.n_bands);
        }
        case FrontendType::kTicks: return "ticks: one step per tick";
        case FrontendType::kNone: return "none: features are given directly";
    }
    return "?";
}

nlohmann::ordered_json info_json(const ModelFile& model) {
    const auto& d = model.description();
    const auto state = models::state_size_per_stream(d.architecture);
    auto doc = json_document("info", kInfoSchemaVersion);
    doc["model"] = model.source();
    doc["format_version"] = d.format_version;
    doc["file_bytes"] = model.file_bytes();
    doc["tensor_count"] = model.tensors().size();
    doc["task"] = models::task_name(d.task);
    doc["frontend"] = {{"type", models::frontend_type_name(d.frontend.type)},
                       {"sample_rate_hz", d.frontend.sample_rate_hz},
                       {"window_samples", d.frontend.window_samples},
                       {"hop_samples", d.frontend.hop_samples},
                       {"n_bands", d.frontend.n_bands}};
    nlohmann::ordered_json layers = nlohmann::ordered_json::array();
    for (const auto& layer : d.architecture.layers) {
        layers.push_back(layer_json(layer, d.architecture.d_model));
    }
    doc["architecture"] = {{"input_dim", d.architecture.input_dim},
                           {"d_model", d.architecture.d_model},
                           {"output_dim", d.architecture.output_dim},
                           {"norm_eps", d.architecture.norm_eps},
                           {"layers", layers}};
    doc["parameter_count"] = model.parameter_count();
    doc["state_bytes_per_stream"] = state.bytes();
    doc["state_floats"] = {{"ssm", state.ssm_floats},
                           {"history", state.history_floats},
                           {"attention_cache", state.cache_floats}};
    doc["recipe"] = {{"name", d.recipe.name},
                     {"script", d.recipe.script},
                     {"commit", d.recipe.commit},
                     {"seed", d.recipe.seed}};
    return doc;
}

void print_info_text(const ModelFile& model) {
    const auto& d = model.description();
    const auto& a = d.architecture;
    const auto state = models::state_size_per_stream(a);
    fmt::print("model          {}\n", model.source());
    fmt::print("format         statestream model v{} (safetensors, {} tensors, {} bytes)\n",
               d.format_version, model.tensors().size(), model.file_bytes());
    fmt::print("task           {}\n", models::task_name(d.task));
    fmt::print("front-end      {}\n", frontend_summary(d.frontend));
    fmt::print("architecture   input {} -> d_model {} -> output {}, {} layer{}\n", a.input_dim,
               a.d_model, a.output_dim, a.layers.size(), a.layers.size() == 1 ? "" : "s");
    for (std::size_t i = 0; i < a.layers.size(); ++i) {
        std::uint64_t floats = 0;
        for (const auto& t : models::layer_state_tensors(a.layers[i], a.d_model)) floats += t.count;
        fmt::print("  layer {:<6} {}; state {} bytes\n", i, layer_summary(a.layers[i], a.d_model),
                   floats * 4);
    }
    fmt::print("parameters     {}\n", model.parameter_count());
    fmt::print("state/stream   {} bytes (SSM states {} floats, conv tails and previous "
               "inputs {} floats, attention rings {} floats)\n",
               state.bytes(), state.ssm_floats, state.history_floats, state.cache_floats);
    fmt::print("recipe         {} ({}, seed {}, commit {})\n", d.recipe.name,
               d.recipe.script.empty() ? "no script recorded" : d.recipe.script, d.recipe.seed,
               d.recipe.commit.empty() ? "unknown" : d.recipe.commit);
}

}  // namespace

Subcommand add_info_command(CLI::App& parent) {
    struct Options {
        std::string model_path;
        bool json = false;
    };
    auto options = std::make_shared<Options>();
    CLI::App* cli = parent.add_subcommand(
        "info", "Validate a model file and print its architecture, parameter count, state bytes "
                "per stream and feature front-end.");
    cli->add_option("MODEL", options->model_path, "Model file (.safetensors)")->required();
    cli->add_flag("--json", options->json, "Print one JSON object (schema statestream.info/1)");
    return {cli, [options]() {
                const ModelFile model = ModelFile::load(options->model_path);
                if (options->json) fmt::print("{}\n", info_json(model).dump(2));
                else print_info_text(model);
                return ExitCode::kSuccess;
            }};
}

}  // namespace statestream::apps
