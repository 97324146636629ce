#include "tests/plugins/lv2_test_host.hpp"

#include <lilv/lilv.h>
#include <lv2/core/lv2.h>

#include <cmath>
#include <stdexcept>

#include "tests/support/allocation_hooks.hpp"

namespace statestream::test {

namespace {

// lilv nodes freed at scope end.
struct Node {
    LilvNode* node;
    explicit Node(LilvNode* n) : node(n) {}
    ~Node() { lilv_node_free(node); }
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;
};

}  // namespace

Lv2TestHost::Lv2TestHost(const std::string& plugin_uri, double rate_hz,
                         const std::filesystem::path& bundle)
    : world_(lilv_world_new()) {
    const std::string bundle_path = bundle.string() + "/";
    const Node bundle_uri(lilv_new_file_uri(world_, nullptr, bundle_path.c_str()));
    lilv_world_load_bundle(world_, bundle_uri.node);
    const Node uri(lilv_new_uri(world_, plugin_uri.c_str()));
    plugin_ = lilv_plugins_get_by_uri(lilv_world_get_all_plugins(world_), uri.node);
    if (plugin_ == nullptr) {
        lilv_world_free(world_);
        throw std::runtime_error("no plugin <" + plugin_uri + "> in " + bundle_path);
    }
    const std::uint32_t ports = lilv_plugin_get_num_ports(plugin_);
    controls_.assign(ports, 0.0f);
    std::vector<float> defaults(ports);
    lilv_plugin_get_port_ranges_float(plugin_, nullptr, nullptr, defaults.data());
    const Node input_class(lilv_new_uri(world_, LV2_CORE__InputPort));
    const Node audio_class(lilv_new_uri(world_, LV2_CORE__AudioPort));
    for (std::uint32_t p = 0; p < ports; ++p) {
        const LilvPort* port = lilv_plugin_get_port_by_index(plugin_, p);
        symbols_.emplace_back(lilv_node_as_string(lilv_port_get_symbol(plugin_, port)));
        const bool input = lilv_port_is_a(plugin_, port, input_class.node);
        if (lilv_port_is_a(plugin_, port, audio_class.node)) {
            (input ? audio_in_ : audio_out_).push_back(p);
        } else {
            controls_[p] = std::isnan(defaults[p]) ? 0.0f : defaults[p];
        }
    }
    instance_ = lilv_plugin_instantiate(plugin_, rate_hz, nullptr);
    if (instance_ == nullptr) return;
    for (std::uint32_t p = 0; p < ports; ++p) lilv_instance_connect_port(instance_, p, &controls_[p]);
}

Lv2TestHost::~Lv2TestHost() {
    if (instance_ != nullptr) {
        if (active_) lilv_instance_deactivate(instance_);
        lilv_instance_free(instance_);
    }
    lilv_world_free(world_);
}

std::size_t Lv2TestHost::control_index(const std::string& symbol) const {
    for (std::size_t p = 0; p < symbols_.size(); ++p) {
        if (symbols_[p] == symbol) return p;
    }
    throw std::out_of_range("the plugin has no port '" + symbol + "'");
}

void Lv2TestHost::set(const std::string& symbol, float value) { controls_[control_index(symbol)] = value; }

float Lv2TestHost::get(const std::string& symbol) const { return controls_[control_index(symbol)]; }

void Lv2TestHost::activate() {
    lilv_instance_activate(instance_);
    active_ = true;
}

void Lv2TestHost::deactivate() {
    lilv_instance_deactivate(instance_);
    active_ = false;
}

void Lv2TestHost::run(std::span<const float* const> in, std::span<float* const> out,
                      std::uint32_t frames, bool armed) {
    for (std::size_t c = 0; c < audio_in_.size(); ++c) {
        lilv_instance_connect_port(instance_, audio_in_[c], const_cast<float*>(in[c]));
    }
    for (std::size_t c = 0; c < audio_out_.size(); ++c) {
        lilv_instance_connect_port(instance_, audio_out_[c], out[c]);
    }
    if (armed) {
        const ArmAllocationHooks arm;
        lilv_instance_run(instance_, frames);
    } else {
        lilv_instance_run(instance_, frames);
    }
}

std::vector<std::vector<float>> Lv2TestHost::process(const std::vector<std::vector<float>>& in,
                                                     std::span<const std::size_t> pieces, bool armed) {
    const std::size_t total = in.front().size();
    std::vector<std::vector<float>> out(audio_out_.size(), std::vector<float>(total, 0.0f));
    std::vector<const float*> from(in.size());
    std::vector<float*> to(out.size());
    for (std::size_t at = 0, i = 0; at < total; ++i) {
        const std::size_t frames = std::min(pieces[i % pieces.size()], total - at);
        for (std::size_t c = 0; c < from.size(); ++c) from[c] = in[c].data() + at;
        for (std::size_t c = 0; c < to.size(); ++c) to[c] = out[c].data() + at;
        run(from, to, static_cast<std::uint32_t>(frames), armed);
        at += frames;
    }
    return out;
}

}  // namespace statestream::test
