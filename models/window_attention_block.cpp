#include "models/window_attention_block.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "models/model_file.hpp"

namespace statestream::models {

WindowAttentionWeights WindowAttentionWeights::bind(const ModelFile& file,
                                                    const std::string& prefix,
                                                    const WindowAttentionSpec& spec,
                                                    std::size_t d_model) {
    WindowAttentionWeights w;
    w.spec = spec;
    w.d_model = d_model;
    w.qkv_proj = file.tensor(prefix + "qkv_proj.weight");
    w.out_proj = file.tensor(prefix + "out_proj.weight");
    w.linear = cpu::select_linear_kernel();
    return w;
}

WindowAttentionWorkspace::WindowAttentionWorkspace(const WindowAttentionWeights& w,
                                                   std::size_t max_rows)
    : max_rows_(max_rows),
      qkv_(max_rows * 3 * w.spec.n_heads * w.spec.head_dim),
      scores_(w.spec.window),
      o_(max_rows * w.spec.n_heads * w.spec.head_dim) {}

namespace {

std::size_t cursor_value(float stored, std::size_t limit) noexcept {
    if (!(stored >= 0.0f)) return 0;  // NaN or negative
    return std::min(static_cast<std::size_t>(stored), limit);
}

}  // namespace

void window_attention_forward(const WindowAttentionWeights& w, StreamBatch batch,
                              WindowAttentionWorkspace& ws, const float* u, float* out) noexcept {
    const std::size_t H = w.spec.n_heads, Dh = w.spec.head_dim, W = w.spec.window;
    const std::size_t inner = H * Dh;
    const std::size_t rows = batch.rows();
    const float scale = 1.0f / std::sqrt(static_cast<float>(Dh));

    w.linear(w.qkv_proj, {}, w.d_model, 3 * inner, u, w.d_model, ws.qkv_.data(), 3 * inner, rows);

    for (std::size_t s = 0; s < batch.states.size(); ++s) {
        float* keys = batch.states[s];
        float* values = keys + W * inner;
        float* cursor = values + W * inner;
        std::size_t slot = cursor_value(cursor[0], W - 1);
        std::size_t live = cursor_value(cursor[1], W);
        for (std::size_t t = s * batch.steps; t < (s + 1) * batch.steps; ++t) {
            const float* q = ws.qkv_.data() + t * 3 * inner;
            std::memcpy(keys + slot * inner, q + inner, inner * sizeof(float));
            std::memcpy(values + slot * inner, q + 2 * inner, inner * sizeof(float));
            slot = slot + 1 == W ? 0 : slot + 1;
            live = std::min(live + 1, W);
            const std::size_t oldest = (slot + W - live) % W;
            for (std::size_t h = 0; h < H; ++h) {
                const float* qh = q + h * Dh;
                float* scores = ws.scores_.data();
                float top = -INFINITY;
                for (std::size_t j = 0; j < live; ++j) {
                    const float* kj = keys + ((oldest + j) % W) * inner + h * Dh;
                    float dot = 0.0f;
                    for (std::size_t d = 0; d < Dh; ++d) dot += qh[d] * kj[d];
                    scores[j] = dot * scale;
                    top = std::max(top, scores[j]);
                }
                float total = 0.0f;
                for (std::size_t j = 0; j < live; ++j) {
                    scores[j] = std::exp(scores[j] - top);
                    total += scores[j];
                }
                float* o = ws.o_.data() + t * inner + h * Dh;
                std::fill(o, o + Dh, 0.0f);
                for (std::size_t j = 0; j < live; ++j) {
                    const float p = scores[j] / total;
                    const float* vj = values + ((oldest + j) % W) * inner + h * Dh;
                    for (std::size_t d = 0; d < Dh; ++d) o[d] += p * vj[d];
                }
            }
        }
        cursor[0] = static_cast<float>(slot);
        cursor[1] = static_cast<float>(live);
    }
    w.linear(w.out_proj, {}, inner, w.d_model, ws.o_.data(), inner, out, w.d_model, rows);
}

}  // namespace statestream::models
