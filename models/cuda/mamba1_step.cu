#include "models/cuda/mamba1_step.hpp"

#include "models/cuda/dense.cuh"

namespace statestream::models::cuda {

namespace {

constexpr unsigned kScanThreads = 128;
// Channels one block updates for one stream: the stream's B and C are loaded into shared memory
// once for all of them.
constexpr unsigned kChannelsPerBlock = 32;

// In-projection epilogue over xz {rows, 2 d_inner}: the x columns go through the causal conv
// + bias + SiLU (the conv state {d_conv - 1, d_inner} shifts by one step), z stays as is.
struct InProjEpilogue {
    float* out;
    std::uint64_t stride;
    unsigned d_inner, taps;
    const float* conv_weight;  // {d_inner, taps}
    const float* conv_bias;    // {d_inner}
    float* conv_state;         // {rows, taps - 1, d_inner}

    __device__ void operator()(std::uint64_t r, unsigned c, float v) const {
        float* row = out + r * stride;
        if (c >= d_inner) {
            row[c] = v;
            return;
        }
        const unsigned kept = taps - 1;
        float* history = conv_state + r * kept * d_inner + c;
        const float* w = conv_weight + static_cast<std::uint64_t>(c) * taps;
        float acc = conv_bias[c];
        for (unsigned k = 0; k < kept; ++k) acc += w[k] * history[k * d_inner];
        acc += w[kept] * v;
        for (unsigned k = 0; k + 1 < kept; ++k) history[k * d_inner] = history[(k + 1) * d_inner];
        if (kept > 0) history[(kept - 1) * d_inner] = v;
        row[c] = silu(acc);
    }
};

struct ScanArgs {
    const float* xz;            // {rows, xz_stride}: x (after conv) | z
    std::uint64_t xz_stride;
    const float* xdbl;          // {rows, xdbl_stride}: dt_low | B | C
    std::uint64_t xdbl_stride;
    const float* dt;            // {rows, dt_stride} after softplus
    std::uint64_t dt_stride;
    void* ssm;                  // {rows, d_inner, d_state}: float or __nv_bfloat16
    const float* A;             // {d_inner, d_state}
    const float* D;             // {d_inner}
    float* y;                   // {rows, y_stride}
    std::uint64_t y_stride;
    std::uint64_t rows;
    unsigned d_inner, d_state, dt_rank;
    unsigned lanes;
};

//   ssm[i, n] = exp(dt[i] A[i, n]) ssm[i, n] + dt[i] x[i] B[n];  y[i] = ssm[i] . C + D[i] x[i]
template <int kVec, class State>
__global__ void __launch_bounds__(kScanThreads) scan_kernel(ScanArgs a) {
    extern __shared__ __align__(16) float bc[];  // B {d_state}, then C {d_state}
    wait_for_previous_kernel();
    allow_next_kernel();
    const unsigned N = a.d_state, Di = a.d_inner;
    const unsigned lane = threadIdx.x % a.lanes, seg = threadIdx.x / a.lanes;
    const unsigned rows_per_pass = blockDim.x / a.lanes;
    const unsigned chunks = N / kVec;
    const unsigned tiles = (Di + kChannelsPerBlock - 1) / kChannelsPerBlock;
    const std::uint64_t items = a.rows * tiles;
    for (std::uint64_t item = blockIdx.x; item < items; item += gridDim.x) {
        const std::uint64_t b = item / tiles;
        const unsigned first = static_cast<unsigned>(item % tiles) * kChannelsPerBlock;
        const float* xdbl = a.xdbl + b * a.xdbl_stride + a.dt_rank;
        __syncthreads();
        for (unsigned i = threadIdx.x; i < 2 * N; i += blockDim.x) bc[i] = xdbl[i];
        __syncthreads();
        for (unsigned i0 = 0; i0 < kChannelsPerBlock; i0 += rows_per_pass) {
            const unsigned i = first + i0 + seg;
            float acc = 0.0f, xi = 0.0f;
            const bool valid = i0 + seg < kChannelsPerBlock && i < Di;
            if (valid) {
                xi = a.xz[b * a.xz_stride + i];
                const float dti = a.dt[b * a.dt_stride + i];
                const float dx = dti * xi;
                State* si = static_cast<State*>(a.ssm) + (b * Di + i) * N;
                const float* ai = a.A + static_cast<std::uint64_t>(i) * N;
                for (unsigned j = lane; j < chunks; j += a.lanes) {
                    if constexpr (kVec == 4) {
                        float4 s = load_state4(si, j);
                        const float4 av = reinterpret_cast<const float4*>(ai)[j];
                        const float4 bv = reinterpret_cast<const float4*>(bc)[j];
                        const float4 cv = reinterpret_cast<const float4*>(bc + N)[j];
                        s.x = expf(dti * av.x) * s.x + dx * bv.x;
                        s.y = expf(dti * av.y) * s.y + dx * bv.y;
                        s.z = expf(dti * av.z) * s.z + dx * bv.z;
                        s.w = expf(dti * av.w) * s.w + dx * bv.w;
                        store_state4(si, j, s);
                        acc += s.x * cv.x;
                        acc += s.y * cv.y;
                        acc += s.z * cv.z;
                        acc += s.w * cv.w;
                    } else {
                        const float s = expf(dti * ai[j]) * load_state1(si, j) + dx * bc[j];
                        store_state1(si, j, s);
                        acc += s * bc[N + j];
                    }
                }
            }
            acc = group_sum(acc, a.lanes);
            if (valid && lane == 0) {
                const float z = a.xz[b * a.xz_stride + Di + i];
                a.y[b * a.y_stride + i] = (acc + a.D[i] * xi) * silu(z);
            }
        }
    }
}

}  // namespace

cudaError_t mamba1_step(const Mamba1Device& layer, const LayerIo& io) {
    const Mamba1Spec& s = layer.spec;
    const auto d_inner = static_cast<unsigned>(layer.dims.d_inner);
    const auto dt_rank = static_cast<unsigned>(layer.dims.dt_rank);
    const auto xp = static_cast<unsigned>(layer.dims.x_proj_dim);

    const LinearArgs in = input_projection(io, layer.in_proj, 2 * d_inner);
    const InProjEpilogue epilogue{io.proj, io.proj_stride, d_inner, s.d_conv, layer.conv_weight,
                                  layer.conv_bias, layer.conv};
    cudaError_t status = linear(in, epilogue, io.stream, io.programmatic);
    if (status != cudaSuccess) return status;

    LinearArgs x_proj;  // {rows, d_inner} (the conv'd x) -> dt_low | B | C
    x_proj.x = io.proj;
    x_proj.x_stride = io.proj_stride;
    x_proj.weight = layer.x_proj;
    x_proj.rows = io.rows;
    x_proj.in_dim = d_inner;
    x_proj.out_dim = xp;
    x_proj.gemm = io.gemm;
    status = linear_store(x_proj, io.aux, io.aux_stride, io.stream, io.programmatic);
    if (status != cudaSuccess) return status;

    LinearArgs dt_proj;  // dt_low {rows, dt_rank} -> softplus(dt_proj(dt_low) + bias)
    dt_proj.x = io.aux;
    dt_proj.x_stride = io.aux_stride;
    dt_proj.weight = layer.dt_proj;
    dt_proj.bias = layer.dt_bias;
    dt_proj.rows = io.rows;
    dt_proj.in_dim = dt_rank;
    dt_proj.out_dim = d_inner;
    dt_proj.gemm = io.gemm;
    status = linear_softplus(dt_proj, io.aux2, io.aux2_stride, io.stream, io.programmatic);
    if (status != cudaSuccess) return status;

    const bool vec4 = s.d_state % 4 == 0;
    const ScanArgs scan{io.proj, io.proj_stride, io.aux, io.aux_stride, io.aux2, io.aux2_stride,
                        layer.ssm, layer.A, layer.D, io.mix, io.mix_stride, io.rows, d_inner,
                        s.d_state, dt_rank, lanes_for(vec4 ? s.d_state / 4 : s.d_state)};
    const std::size_t shared = 2 * s.d_state * sizeof(float);
    const unsigned tiles = (d_inner + kChannelsPerBlock - 1) / kChannelsPerBlock;
    const unsigned grid = grid_for(io.rows * tiles);
    status = SS_LAUNCH_SCAN(scan_kernel, vec4, layer.bf16_state, dim3(grid), dim3(kScanThreads), shared,
                            io.stream, io.programmatic, scan);
    if (status != cudaSuccess) return status;

    const LinearArgs out = output_projection(io, layer.out_proj, d_inner);
    return linear_accumulate(out, io.h, io.h_stride, io.stream, io.programmatic);
}

}  // namespace statestream::models::cuda
