#include "models/cuda/mamba2_step.hpp"

#include "models/cuda/dense.cuh"

namespace statestream::models::cuda {

namespace {

// One block per (stream, head, tile of rows): a head's state {head_dim, d_state} is head_dim
// rows of d_state floats, each row owned by a group of `lanes` lanes that move it in 16-byte
// pieces (kVec 4) where d_state allows. 128 threads make 128 / lanes rows a pass, and a block
// takes two passes: a head of 64 x 128 is 8 blocks, so at B = 1 its rows are updated in
// parallel rather than in 16 passes of one block.
constexpr unsigned kScanThreads = 128;
constexpr unsigned kScanPassesPerBlock = 2;

// In-projection epilogue: column c of row r of zxbcdt {rows, in_proj_dim}.
//   z columns:   stored as projected (the gate is applied after the scan);
//   xBC columns: causal depthwise conv over the stream's last d_conv inputs of this channel,
//                + bias, SiLU; the conv state {d_conv - 1, conv_dim} shifts by one step;
//   dt columns:  softplus(dt + dt_bias).
// Each (row, column) is one thread's, so the conv state needs no synchronisation.
struct InProjEpilogue {
    float* out;
    std::uint64_t stride;
    unsigned d_inner, conv_dim, taps;
    const float* conv_weight;   // {conv_dim, taps}
    const float* conv_bias;     // {conv_dim}
    float* conv_state;          // {rows, taps - 1, conv_dim}
    const float* dt_bias;       // {n_heads}

    __device__ void operator()(std::uint64_t r, unsigned c, float v) const {
        float* row = out + r * stride;
        if (c < d_inner) {
            row[c] = v;
            return;
        }
        const unsigned channel = c - d_inner;
        if (channel < conv_dim) {
            const unsigned kept = taps - 1;
            float* history = conv_state + r * kept * conv_dim + channel;  // oldest first
            const float* w = conv_weight + static_cast<std::uint64_t>(channel) * taps;
            float acc = conv_bias[channel];
            for (unsigned k = 0; k < kept; ++k) acc += w[k] * history[k * conv_dim];
            acc += w[kept] * v;
            for (unsigned k = 0; k + 1 < kept; ++k) history[k * conv_dim] = history[(k + 1) * conv_dim];
            if (kept > 0) history[(kept - 1) * conv_dim] = v;
            row[c] = silu(acc);
            return;
        }
        row[c] = softplus(v + dt_bias[channel - conv_dim]);
    }
};

struct ScanArgs {
    const float* proj;          // {rows, proj_stride}: z | xBC (after conv) | dt (after softplus)
    std::uint64_t proj_stride;
    void* ssm;                  // {rows, n_heads, head_dim, d_state}: float or __nv_bfloat16
    const float* A;             // {n_heads}
    const float* D;             // {n_heads}
    float* y;                   // {rows, y_stride}: (ssm . C + D x) * SiLU(z), d_inner used
    std::uint64_t y_stride;
    std::uint64_t rows;
    unsigned n_heads, head_dim, d_state, n_groups, d_inner, conv_dim;
    unsigned lanes;             // per state row: lanes_for(d_state / kVec)
    unsigned rows_per_block;    // kScanPassesPerBlock * kScanThreads / lanes
};

// One token of a tile of a head's state rows: rows [first, first + rows_per_block) of head
// `head` (b * H + h). B then C of the token are in shared `bc`; `y` is the token's output row.
//   ssm[h] = exp(dt[h] A[h]) ssm[h] + dt[h] x[h] (outer) B[g];  y[h] = ssm[h] . C[g] + D[h] x[h]
template <int kVec, class State>
__device__ __forceinline__ void update_head_rows(const ScanArgs& a, std::uint64_t head, unsigned first,
                                                 const float* row, const float* bc, float* y) {
    const unsigned N = a.d_state, P = a.head_dim;
    const unsigned h = static_cast<unsigned>(head % a.n_heads);
    const unsigned lane = threadIdx.x % a.lanes, seg = threadIdx.x / a.lanes;
    const unsigned rows_per_pass = blockDim.x / a.lanes;
    const unsigned chunks = N / kVec;
    const float* z = row + h * P;
    const float* x = row + a.d_inner + h * P;
    const float dt = row[a.d_inner + a.conv_dim + h];
    const float decay = expf(dt * a.A[h]);
    const float d_skip = a.D[h];
    State* head_state = static_cast<State*>(a.ssm) + head * P * N;
    for (unsigned p0 = first; p0 < first + a.rows_per_block; p0 += rows_per_pass) {
        const unsigned p = p0 + seg;
        float acc = 0.0f, xp = 0.0f;
        if (p < P) {
            xp = x[p];
            const float dtx = dt * xp;
            State* sp = head_state + static_cast<std::uint64_t>(p) * N;
            for (unsigned j = lane; j < chunks; j += a.lanes) {
                if constexpr (kVec == 4) {
                    float4 s = load_state4(sp, j);
                    const float4 bv = reinterpret_cast<const float4*>(bc)[j];
                    const float4 cv = reinterpret_cast<const float4*>(bc + N)[j];
                    s.x = s.x * decay + dtx * bv.x;
                    s.y = s.y * decay + dtx * bv.y;
                    s.z = s.z * decay + dtx * bv.z;
                    s.w = s.w * decay + dtx * bv.w;
                    store_state4(sp, j, s);
                    acc += s.x * cv.x;
                    acc += s.y * cv.y;
                    acc += s.z * cv.z;
                    acc += s.w * cv.w;
                } else {
                    const float s = load_state1(sp, j) * decay + dtx * bc[j];
                    store_state1(sp, j, s);
                    acc += s * bc[N + j];
                }
            }
        }
        acc = group_sum(acc, a.lanes);
        if (p < P && lane == 0) y[h * P + p] = (acc + d_skip * xp) * silu(z[p]);
    }
}

// Stages token `row`'s B and C of group g in shared memory for the whole block.
__device__ __forceinline__ void stage_bc(const ScanArgs& a, const float* row, unsigned g, float* bc) {
    const unsigned N = a.d_state;
    const float* group_b = row + 2 * a.d_inner + g * N;
    const float* group_c = group_b + a.n_groups * N;
    __syncthreads();  // the previous token's or item's readers of bc are done
    for (unsigned i = threadIdx.x; i < N; i += blockDim.x) {
        bc[i] = group_b[i];
        bc[N + i] = group_c[i];
    }
    __syncthreads();
}

// Chunked forward, stage 2: per (stream, conv channel or head), the chunk's tokens in order.
// Conv channels: the causal conv + SiLU over the raw in_proj values, the conv state shifting
// a token at a time; head columns: softplus(dt + dt_bias). In place in the projection rows.
struct ConvArgs {
    float* proj;                // {streams * tokens, stride}: z | xBC | dt
    std::uint64_t stride;
    std::uint64_t streams;
    unsigned tokens, d_inner, conv_dim, n_heads, taps;
    const float* conv_weight;   // {conv_dim, taps}
    const float* conv_bias;     // {conv_dim}
    float* conv_state;          // {streams, taps - 1, conv_dim}
    const float* dt_bias;       // {n_heads}
};

constexpr unsigned kConvThreads = 256;

__global__ void __launch_bounds__(kConvThreads) conv_forward_kernel(ConvArgs a) {
    wait_for_previous_kernel();
    allow_next_kernel();
    const unsigned columns = a.conv_dim + a.n_heads;
    const std::uint64_t items = a.streams * columns;
    for (std::uint64_t item = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; item < items;
         item += static_cast<std::uint64_t>(gridDim.x) * blockDim.x) {
        const std::uint64_t b = item / columns;
        const unsigned c = static_cast<unsigned>(item % columns);
        float* column = a.proj + b * a.tokens * a.stride + a.d_inner + c;  // token 0's value
        if (c >= a.conv_dim) {
            const float bias = a.dt_bias[c - a.conv_dim];
            for (unsigned t = 0; t < a.tokens; ++t) column[t * a.stride] = softplus(column[t * a.stride] + bias);
            continue;
        }
        const unsigned kept = a.taps - 1;
        float* history = a.conv_state + b * kept * a.conv_dim + c;  // oldest first
        const float* w = a.conv_weight + static_cast<std::uint64_t>(c) * a.taps;
        for (unsigned t = 0; t < a.tokens; ++t) {
            const float v = column[t * a.stride];
            float acc = a.conv_bias[c];
            for (unsigned k = 0; k < kept; ++k) acc += w[k] * history[k * a.conv_dim];
            acc += w[kept] * v;
            for (unsigned k = 0; k + 1 < kept; ++k) history[k * a.conv_dim] = history[(k + 1) * a.conv_dim];
            if (kept > 0) history[(kept - 1) * a.conv_dim] = v;
            column[t * a.stride] = silu(acc);
        }
    }
}

// The SSD update of `tokens` tokens of each stream, a block per (stream, head, tile of rows):
// a step is tokens = 1; the chunked forward walks its chunk's tokens inside the block, so a
// block's state rows stay where its lanes last wrote them (L1 and L2) from one token to the
// next. ScanArgs::rows counts streams; row b * tokens + t is token t of stream b.
template <int kVec, class State>
__global__ void __launch_bounds__(kScanThreads) scan_kernel(ScanArgs a, unsigned tokens) {
    extern __shared__ __align__(16) float bc[];  // B {d_state}, then C {d_state}
    wait_for_previous_kernel();
    allow_next_kernel();
    const unsigned H = a.n_heads, heads_per_group = H / a.n_groups;
    const unsigned tiles = (a.head_dim + a.rows_per_block - 1) / a.rows_per_block;
    const std::uint64_t items = a.rows * H * tiles;
    for (std::uint64_t item = blockIdx.x; item < items; item += gridDim.x) {
        const std::uint64_t head = item / tiles;
        const unsigned first = static_cast<unsigned>(item % tiles) * a.rows_per_block;
        const std::uint64_t b = head / H;
        const unsigned g = static_cast<unsigned>(head % H) / heads_per_group;
        for (unsigned t = 0; t < tokens; ++t) {
            const std::uint64_t r = b * tokens + t;
            const float* row = a.proj + r * a.proj_stride;
            stage_bc(a, row, g, bc);
            update_head_rows<kVec, State>(a, head, first, row, bc, a.y + r * a.y_stride);
        }
    }
}

}  // namespace

cudaError_t mamba2_step(const Mamba2Device& layer, const LayerIo& io) {
    const Mamba2Spec& s = layer.spec;
    const Mamba2Dims& d = layer.dims;
    const auto d_inner = static_cast<unsigned>(d.d_inner);
    const auto conv_dim = static_cast<unsigned>(d.conv_dim);

    const LinearArgs in = input_projection(io, layer.in_proj,
                                            static_cast<unsigned>(d.in_proj_dim));
    const InProjEpilogue epilogue{io.proj, io.proj_stride, d_inner, conv_dim, s.d_conv,
                                  layer.conv_weight, layer.conv_bias, layer.conv, layer.dt_bias};
    cudaError_t status = linear(in, epilogue, io.stream, io.programmatic);
    if (status != cudaSuccess) return status;

    const bool vec4 = s.d_state % 4 == 0;
    const unsigned lanes = lanes_for(vec4 ? s.d_state / 4 : s.d_state);
    const unsigned rows_per_block = kScanPassesPerBlock * (kScanThreads / lanes);
    const ScanArgs scan{io.proj, io.proj_stride, layer.ssm, layer.A, layer.D, io.mix, io.mix_stride,
                        io.rows, static_cast<unsigned>(d.n_heads), s.head_dim, s.d_state, s.n_groups,
                        d_inner, conv_dim, lanes, rows_per_block};
    const std::size_t shared = 2 * s.d_state * sizeof(float);
    const unsigned tiles = (s.head_dim + rows_per_block - 1) / rows_per_block;
    const unsigned grid = grid_for(io.rows * d.n_heads * tiles);
    status = SS_LAUNCH_SCAN(scan_kernel, vec4, layer.bf16_state, dim3(grid), dim3(kScanThreads), shared,
                            io.stream, io.programmatic, scan, 1u);
    if (status != cudaSuccess) return status;

    const LinearArgs out = output_projection(io, layer.out_proj, d_inner,
                                             {layer.norm_weight, d_inner / s.n_groups, io.eps});
    return linear_accumulate(out, io.h, io.h_stride, io.stream, io.programmatic);
}

}  // namespace statestream::models::cuda

namespace statestream::models::cuda {

cudaError_t mamba2_forward(const Mamba2Device& layer, const LayerIo& io, unsigned tokens) {
    const Mamba2Spec& s = layer.spec;
    const Mamba2Dims& d = layer.dims;
    const auto d_inner = static_cast<unsigned>(d.d_inner);
    const auto conv_dim = static_cast<unsigned>(d.conv_dim);
    const auto n_heads = static_cast<unsigned>(d.n_heads);
    const std::uint64_t streams = io.rows / tokens;

    const LinearArgs in = input_projection(io, layer.in_proj, static_cast<unsigned>(d.in_proj_dim));
    cudaError_t status = linear_store(in, io.proj, io.proj_stride, io.stream, io.programmatic);
    if (status != cudaSuccess) return status;

    const ConvArgs conv{io.proj, io.proj_stride, streams, tokens, d_inner, conv_dim, n_heads, s.d_conv,
                        layer.conv_weight, layer.conv_bias, layer.conv, layer.dt_bias};
    const std::uint64_t conv_blocks = (streams * (conv_dim + n_heads) + kConvThreads - 1) / kConvThreads;
    status = launch(&conv_forward_kernel, dim3(grid_for(conv_blocks)), dim3(kConvThreads), 0, io.stream,
                    io.programmatic, conv);
    if (status != cudaSuccess) return status;

    const bool vec4 = s.d_state % 4 == 0;
    const unsigned lanes = lanes_for(vec4 ? s.d_state / 4 : s.d_state);
    const unsigned rows_per_block = kScanPassesPerBlock * (kScanThreads / lanes);
    const ScanArgs scan{io.proj, io.proj_stride, layer.ssm, layer.A, layer.D, io.mix, io.mix_stride,
                        streams, n_heads, s.head_dim, s.d_state, s.n_groups, d_inner, conv_dim, lanes,
                        rows_per_block};
    const std::size_t shared = 2 * s.d_state * sizeof(float);
    const unsigned tiles = (s.head_dim + rows_per_block - 1) / rows_per_block;
    const unsigned grid = grid_for(streams * n_heads * tiles);
    status = SS_LAUNCH_SCAN(scan_kernel, vec4, layer.bf16_state, dim3(grid), dim3(kScanThreads), shared,
                            io.stream, io.programmatic, scan, tokens);
    if (status != cudaSuccess) return status;

    const LinearArgs out = output_projection(io, layer.out_proj, d_inner,
                                             {layer.norm_weight, d_inner / s.n_groups, io.eps});
    return linear_accumulate(out, io.h, io.h_stride, io.stream, io.programmatic);
}

}  // namespace statestream::models::cuda
