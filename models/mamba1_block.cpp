#include "models/mamba1_block.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "models/cpu/activations.hpp"
#include "models/cpu/causal_conv.hpp"
#include "models/model_file.hpp"

namespace statestream::models {

using cpu::silu;
using cpu::softplus;

Mamba1Weights Mamba1Weights::bind(const ModelFile& file, const std::string& prefix,
                                  const Mamba1Spec& spec, std::size_t d_model) {
    Mamba1Weights w;
    w.spec = spec;
    w.dims = mamba1_dims(spec, static_cast<std::uint32_t>(d_model));
    w.d_model = d_model;
    w.in_proj = file.tensor(prefix + "in_proj.weight");
    w.conv_weight = file.tensor(prefix + "conv1d.weight");
    w.conv_bias = file.tensor(prefix + "conv1d.bias");
    w.x_proj = file.tensor(prefix + "x_proj.weight");
    w.dt_proj = file.tensor(prefix + "dt_proj.weight");
    w.dt_bias = file.tensor(prefix + "dt_proj.bias");
    w.D = file.tensor(prefix + "D");
    w.out_proj = file.tensor(prefix + "out_proj.weight");
    const auto a_log = file.tensor(prefix + "A_log");
    w.A.resize(a_log.size());
    std::transform(a_log.begin(), a_log.end(), w.A.begin(), [](float v) { return -std::exp(v); });
    w.scan = cpu::select_selective_scan_kernel();
    w.linear = cpu::select_linear_kernel();
    return w;
}

Mamba1Workspace::Mamba1Workspace(const Mamba1Weights& w, std::size_t max_rows)
    : max_rows_(max_rows),
      xz_(max_rows * 2 * w.dims.d_inner),
      window_((w.spec.d_conv - 1 + max_rows) * w.dims.d_inner),
      xc_(max_rows * w.dims.d_inner),
      xdbl_(max_rows * w.dims.x_proj_dim),
      dt_(max_rows * w.dims.d_inner),
      y_(max_rows * w.dims.d_inner) {}

void mamba1_forward(const Mamba1Weights& w, StreamBatch batch, Mamba1Workspace& ws,
                    const float* u, float* out) noexcept {
    const std::size_t D = w.dims.d_inner;
    const std::size_t N = w.spec.d_state;
    const std::size_t rank = w.dims.dt_rank;
    const std::size_t xp = w.dims.x_proj_dim;
    const std::size_t taps = w.spec.d_conv;
    const std::size_t rows = batch.rows();
    const std::size_t steps = batch.steps;

    w.linear(w.in_proj, {}, w.d_model, 2 * D, u, w.d_model, ws.xz_.data(), 2 * D, rows);

    for (std::size_t s = 0; s < batch.states.size(); ++s) {
        float* conv_state = batch.states[s] + D * N;
        const std::size_t row0 = s * steps;
        cpu::causal_conv_silu({w.conv_weight, w.conv_bias, D, taps}, conv_state,
                              ws.xz_.data() + row0 * 2 * D, 2 * D, ws.xc_.data() + row0 * D,
                              ws.window_.data(), steps);
    }

    w.linear(w.x_proj, {}, D, xp, ws.xc_.data(), D, ws.xdbl_.data(), xp, rows);
    w.linear(w.dt_proj, w.dt_bias, rank, D, ws.xdbl_.data(), xp, ws.dt_.data(), D, rows);
    for (std::size_t k = 0; k < rows * D; ++k) ws.dt_[k] = softplus(ws.dt_[k]);

    const cpu::SelectiveScanShape shape{D, N, xp};
    for (std::size_t s = 0; s < batch.states.size(); ++s) {
        const std::size_t row0 = s * steps;
        w.scan(shape, ws.xc_.data() + row0 * D, ws.dt_.data() + row0 * D,
               ws.xdbl_.data() + row0 * xp + rank, w.A.data(), w.D.data(), batch.states[s],
               ws.y_.data() + row0 * D, steps);
    }

    for (std::size_t t = 0; t < rows; ++t) {
        const float* z = ws.xz_.data() + t * 2 * D + D;
        float* y = ws.y_.data() + t * D;
        for (std::size_t i = 0; i < D; ++i) y[i] *= silu(z[i]);
    }
    w.linear(w.out_proj, {}, D, w.d_model, ws.y_.data(), D, out, w.d_model, rows);
}

}  // namespace statestream::models
