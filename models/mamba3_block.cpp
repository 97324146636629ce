#include "models/mamba3_block.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "models/cpu/activations.hpp"
#include "models/model_file.hpp"

namespace statestream::models {

using cpu::silu;
using cpu::softplus;
using cpu::sigmoid;

Mamba3Weights Mamba3Weights::bind(const ModelFile& file, const std::string& prefix,
                                  const Mamba3Spec& spec, std::size_t d_model, float norm_eps) {
    Mamba3Weights w;
    w.spec = spec;
    w.dims = mamba3_dims(spec, static_cast<std::uint32_t>(d_model));
    w.d_model = d_model;
    w.norm_eps = norm_eps;
    w.in_proj = file.tensor(prefix + "in_proj.weight");
    w.dt_bias = file.tensor(prefix + "dt_bias");
    w.D = file.tensor(prefix + "D");
    w.b_norm = file.tensor(prefix + "B_norm.weight");
    w.c_norm = file.tensor(prefix + "C_norm.weight");
    w.b_bias = file.tensor(prefix + "B_bias");
    w.c_bias = file.tensor(prefix + "C_bias");
    if (spec.mimo_rank > 0) {
        w.mimo_x = file.tensor(prefix + "mimo_x");
        w.mimo_o = file.tensor(prefix + "mimo_o");
    }
    w.norm_weight = file.tensor(prefix + "norm.weight");
    w.out_proj = file.tensor(prefix + "out_proj.weight");
    const auto a_log = file.tensor(prefix + "A_log");
    w.A.resize(a_log.size());
    std::transform(a_log.begin(), a_log.end(), w.A.begin(), [](float v) { return -std::exp(v); });
    w.scan = cpu::select_mamba3_scan_kernel();
    w.linear = cpu::select_linear_kernel();
    return w;
}

Mamba3Workspace::Mamba3Workspace(const Mamba3Weights& w, std::size_t max_rows)
    : max_rows_(max_rows),
      proj_(max_rows * w.dims.in_proj_dim),
      coef_(max_rows * w.dims.n_heads * 3),
      dt_(max_rows * w.dims.n_heads),
      normed_(2 * w.dims.bc_dim),
      biased_(w.spec.d_state),
      b_(max_rows * w.dims.n_heads * w.dims.ranks * w.spec.d_state),
      c_(b_.size()),
      xr_(max_rows * w.dims.n_heads * w.dims.ranks * w.spec.head_dim),
      prev_xr_(w.dims.n_heads * w.dims.ranks * w.spec.head_dim),
      yr_(xr_.size()),
      y_(max_rows * w.dims.d_inner) {}

namespace {

// x {n_heads, head_dim} -> xr {n_heads, ranks, head_dim}: the MIMO input projection (SISO: copy).
void mimo_inputs(const Mamba3Weights& w, const float* x, float* xr) noexcept {
    const std::size_t H = w.dims.n_heads, R = w.dims.ranks, P = w.spec.head_dim;
    for (std::size_t h = 0; h < H; ++h) {
        for (std::size_t r = 0; r < R; ++r) {
            float* dst = xr + (h * R + r) * P;
            const float* src = x + h * P;
            if (w.mimo_x.empty()) {
                std::memcpy(dst, src, P * sizeof(float));
            } else {
                const float* m = w.mimo_x.data() + (h * R + r) * P;
                for (std::size_t p = 0; p < P; ++p) dst[p] = src[p] * m[p];
            }
        }
    }
}

}  // namespace

void mamba3_forward(const Mamba3Weights& w, StreamBatch batch, Mamba3Workspace& ws,
                    const float* u, float* out) noexcept {
    const std::size_t d_inner = w.dims.d_inner;
    const std::size_t H = w.dims.n_heads, R = w.dims.ranks, P = w.spec.head_dim;
    const std::size_t N = w.spec.d_state, G = w.spec.n_groups, K = w.dims.n_angles;
    const std::size_t in_dim = w.dims.in_proj_dim, bc = w.dims.bc_dim;
    const std::size_t heads_per_group = H / G;
    const std::size_t rows = batch.rows();
    const std::size_t steps = batch.steps;
    // Offsets of each part of a projected row, and of each part of the layer state.
    const std::size_t x_at = d_inner, b_at = 2 * d_inner, c_at = b_at + bc, dt_at = c_at + bc;
    const std::size_t lam_at = dt_at + H, theta_at = lam_at + H;
    const std::size_t prev_x_at = H * P * N, prev_b_at = prev_x_at + H * P;
    const std::size_t angle_at = prev_b_at + H * R * N, residual_at = angle_at + H * K;

    w.linear(w.in_proj, {}, w.d_model, in_dim, u, w.d_model, ws.proj_.data(), in_dim, rows);

    for (std::size_t t = 0; t < rows; ++t) {
        const float* row = ws.proj_.data() + t * in_dim;
        for (std::size_t h = 0; h < H; ++h) {
            const float dt = softplus(row[dt_at + h] + w.dt_bias[h]);
            const float lam = sigmoid(row[lam_at + h]);
            const float alpha = std::exp(dt * w.A[h]);
            float* k = ws.coef_.data() + (t * H + h) * 3;
            k[0] = alpha;
            k[1] = (1.0f - lam) * dt * alpha;
            k[2] = lam * dt;
            ws.dt_[t * H + h] = dt;
        }
        mimo_inputs(w, row + x_at, ws.xr_.data() + t * H * R * P);
    }

    const cpu::Mamba3ScanShape shape{H, P, N, R};
    float* nb = ws.normed_.data();
    float* nc = nb + bc;
    for (std::size_t s = 0; s < batch.states.size(); ++s) {
        float* ssm = batch.states[s];
        float* prev_x = ssm + prev_x_at;
        float* prev_b = ssm + prev_b_at;
        float* angle = ssm + angle_at;
        float* residual = ssm + residual_at;
        const std::size_t row0 = s * steps;
        // B and C of every step: normalised per rank and group, biased and rotated per head.
        // Angles advance step by step, so this runs in time order.
        for (std::size_t t = row0; t < row0 + steps; ++t) {
            const float* row = ws.proj_.data() + t * in_dim;
            cpu::rms_norm_rows(row + b_at, nb, w.b_norm, N, N, w.norm_eps, R * G, N);
            cpu::rms_norm_rows(row + c_at, nc, w.c_norm, N, N, w.norm_eps, R * G, N);
            for (std::size_t h = 0; h < H; ++h) {
                const std::size_t g = h / heads_per_group;
                float* phi = angle + h * K;
                float* phi_residual = residual + h * K;
                cpu::advance_angles(phi, phi_residual, row + theta_at, ws.dt_[t * H + h], K);
                for (std::size_t r = 0; r < R; ++r) {
                    const std::size_t at = ((t * H + h) * R + r) * N;
                    const float* bias_b = w.b_bias.data() + (h * R + r) * N;
                    const float* bias_c = w.c_bias.data() + (h * R + r) * N;
                    const float* group_b = nb + (r * G + g) * N;
                    const float* group_c = nc + (r * G + g) * N;
                    float* biased = ws.biased_.data();
                    for (std::size_t n = 0; n < N; ++n) biased[n] = group_b[n] + bias_b[n];
                    cpu::rotate_pairs(biased, phi, phi_residual, K, ws.b_.data() + at);
                    for (std::size_t n = 0; n < N; ++n) biased[n] = group_c[n] + bias_c[n];
                    cpu::rotate_pairs(biased, phi, phi_residual, K, ws.c_.data() + at);
                }
            }
        }
        mimo_inputs(w, prev_x, ws.prev_xr_.data());
        w.scan(shape, ws.coef_.data() + row0 * H * 3, ws.xr_.data() + row0 * H * R * P,
               ws.b_.data() + row0 * H * R * N, ws.c_.data() + row0 * H * R * N,
               ws.prev_xr_.data(), prev_b, ssm, ws.yr_.data() + row0 * H * R * P, steps);
        const std::size_t last = row0 + steps - 1;
        std::memcpy(prev_x, ws.proj_.data() + last * in_dim + x_at, H * P * sizeof(float));
        std::memcpy(prev_b, ws.b_.data() + last * H * R * N, H * R * N * sizeof(float));
    }

    for (std::size_t t = 0; t < rows; ++t) {
        const float* z = ws.proj_.data() + t * in_dim;
        const float* yr = ws.yr_.data() + t * H * R * P;
        const float* xr = ws.xr_.data() + t * H * R * P;
        float* y = ws.y_.data() + t * d_inner;
        for (std::size_t h = 0; h < H; ++h) {
            for (std::size_t p = 0; p < P; ++p) {
                float sum = 0.0f;
                for (std::size_t r = 0; r < R; ++r) {
                    const std::size_t at = (h * R + r) * P + p;
                    const float term = yr[at] + w.D[h] * xr[at];
                    sum += w.mimo_o.empty() ? term : w.mimo_o[at] * term;
                }
                y[h * P + p] = sum * silu(z[h * P + p]);
            }
        }
    }
    cpu::rms_norm_rows(ws.y_.data(), ws.y_.data(), w.norm_weight, d_inner, d_inner / G,
                       w.norm_eps, rows, d_inner);
    w.linear(w.out_proj, {}, d_inner, w.d_model, ws.y_.data(), d_inner, out, w.d_model, rows);
}

}  // namespace statestream::models
