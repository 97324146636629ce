#include "models/mamba2_block.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "models/cpu/activations.hpp"
#include "models/cpu/causal_conv.hpp"
#include "models/model_file.hpp"

namespace statestream::models {

using cpu::silu;
using cpu::softplus;

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

void mamba2_forward(const Mamba2Weights& w, StreamBatch batch, Mamba2Workspace& ws,
                    const float* u, float* out) noexcept {
    const std::size_t d_inner = w.dims.d_inner;
    const std::size_t conv_dim = w.dims.conv_dim;
    const std::size_t n_heads = w.dims.n_heads;
    const std::size_t in_dim = w.dims.in_proj_dim;
    const std::size_t taps = w.spec.d_conv;
    const std::size_t rows = batch.rows();
    const std::size_t steps = batch.steps;
    const std::size_t ssm_floats = n_heads * w.spec.head_dim * w.spec.d_state;

    // zxbcdt {rows, in_proj_dim}: z | xBC | dt
    w.linear(w.in_proj, {}, w.d_model, in_dim, u, w.d_model, ws.zxbcdt_.data(), in_dim, rows);

    for (std::size_t t = 0; t < rows; ++t) {
        const float* dt_raw = ws.zxbcdt_.data() + t * in_dim + d_inner + conv_dim;
        for (std::size_t h = 0; h < n_heads; ++h) {
            ws.dt_[t * n_heads + h] = softplus(dt_raw[h] + w.dt_bias[h]);
        }
    }

    const cpu::SsdScanShape shape{n_heads, w.spec.head_dim, w.spec.d_state, w.spec.n_groups,
                                  d_inner, conv_dim};
    for (std::size_t s = 0; s < batch.states.size(); ++s) {
        float* ssm = batch.states[s];
        float* conv_state = ssm + ssm_floats;
        const std::size_t row0 = s * steps;
        cpu::causal_conv_silu({w.conv_weight, w.conv_bias, conv_dim, taps}, conv_state,
                              ws.zxbcdt_.data() + row0 * in_dim + d_inner, in_dim,
                              ws.xbc_.data() + row0 * conv_dim, ws.window_.data(), steps);

        w.scan(shape, ws.xbc_.data() + row0 * conv_dim, ws.dt_.data() + row0 * n_heads,
               w.A.data(), w.D.data(), ssm, ws.y_.data() + row0 * d_inner, steps);
    }

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
