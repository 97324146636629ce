#include "models/mamba2_block.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "models/model_file.hpp"

namespace statestream::models {

namespace {

float silu(float x) noexcept { return x / (1.0f + std::exp(-x)); }

// As torch.nn.functional.softplus (beta 1, threshold 20): above 20, exp would only add rounding.
float softplus(float x) noexcept { return x > 20.0f ? x : std::log1p(std::exp(x)); }

}  // namespace

Mamba2Weights Mamba2Weights::bind(const ModelFile& file, const std::string& prefix,
                                  const Mamba2Spec& spec, std::size_t d_model, float norm_eps) {
    Mamba2Weights w;
    w.spec = spec;
    w.dims = mamba2_dims(spec, static_cast<std::uint32_t>(d_model));
    w.d_model = d_model;
    w.norm_eps = norm_eps;
    w.in_proj = file.tensor(prefix + "in_proj.weight");
    w.conv_weight = file.tensor(prefix + "conv1d.weight");
    w.conv_bias = file.tensor(prefix + "conv1d.bias");
    w.dt_bias = file.tensor(prefix + "dt_bias");
    w.D = file.tensor(prefix + "D");
    w.norm_weight = file.tensor(prefix + "norm.weight");
    w.out_proj = file.tensor(prefix + "out_proj.weight");
    const auto a_log = file.tensor(prefix + "A_log");
    w.A.resize(a_log.size());
    std::transform(a_log.begin(), a_log.end(), w.A.begin(), [](float v) { return -std::exp(v); });
    w.scan = cpu::select_ssd_scan_kernel();
    w.linear = cpu::select_linear_kernel();
    return w;
}

Mamba2Workspace::Mamba2Workspace(const Mamba2Weights& weights, std::size_t max_rows)
    : max_rows_(max_rows),
      zxbcdt_(max_rows * weights.dims.in_proj_dim),
      window_((weights.spec.d_conv - 1 + max_rows) * weights.dims.conv_dim),
      xbc_(max_rows * weights.dims.conv_dim),
      dt_(max_rows * weights.dims.n_heads),
      y_(max_rows * weights.dims.d_inner) {}

void mamba2_forward(const Mamba2Weights& w, Mamba2State state, Mamba2Workspace& ws,
                    const float* u, float* out, std::size_t rows) noexcept {
    const std::size_t d_inner = w.dims.d_inner;
    const std::size_t conv_dim = w.dims.conv_dim;
    const std::size_t n_heads = w.dims.n_heads;
    const std::size_t in_dim = w.dims.in_proj_dim;
    const std::size_t taps = w.spec.d_conv;
    const std::size_t history = taps - 1;

    // zxbcdt {rows, in_proj_dim}: z | xBC | dt
    w.linear(w.in_proj, {}, w.d_model, in_dim, u, w.d_model, ws.zxbcdt_.data(), in_dim, rows);

    // Causal conv over [previous inputs; this chunk's xBC], channel by channel.
    float* window = ws.window_.data();  // {history + rows, conv_dim}
    std::memcpy(window, state.conv.data(), history * conv_dim * sizeof(float));
    for (std::size_t t = 0; t < rows; ++t) {
        std::memcpy(window + (history + t) * conv_dim, ws.zxbcdt_.data() + t * in_dim + d_inner,
                    conv_dim * sizeof(float));
    }
    for (std::size_t t = 0; t < rows; ++t) {
        float* xbc = ws.xbc_.data() + t * conv_dim;
        for (std::size_t c = 0; c < conv_dim; ++c) {
            float acc = w.conv_bias[c];
            for (std::size_t k = 0; k < taps; ++k) {
                acc += w.conv_weight[c * taps + k] * window[(t + k) * conv_dim + c];
            }
            xbc[c] = silu(acc);
        }
    }
    std::memcpy(state.conv.data(), window + rows * conv_dim, history * conv_dim * sizeof(float));

    for (std::size_t t = 0; t < rows; ++t) {
        const float* dt_raw = ws.zxbcdt_.data() + t * in_dim + d_inner + conv_dim;
        for (std::size_t h = 0; h < n_heads; ++h) {
            ws.dt_[t * n_heads + h] = softplus(dt_raw[h] + w.dt_bias[h]);
        }
    }

    w.scan(cpu::SsdScanShape{n_heads, w.spec.head_dim, w.spec.d_state, w.spec.n_groups,
                                    d_inner, conv_dim},
                  ws.xbc_.data(), ws.dt_.data(), w.A.data(), w.D.data(), state.ssm.data(),
                  ws.y_.data(), rows);

    for (std::size_t t = 0; t < rows; ++t) {
        const float* z = ws.zxbcdt_.data() + t * in_dim;
        float* y = ws.y_.data() + t * d_inner;
        for (std::size_t i = 0; i < d_inner; ++i) y[i] *= silu(z[i]);
    }
    cpu::rms_norm_rows(ws.y_.data(), ws.y_.data(), w.norm_weight, d_inner,
                       d_inner / w.spec.n_groups, w.norm_eps, rows, d_inner);
    w.linear(w.out_proj, {}, d_inner, w.d_model, ws.y_.data(), d_inner, out, w.d_model, rows);
}

}  // namespace statestream::models
