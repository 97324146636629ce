#include "models/cuda/mamba3_step.hpp"

#include "models/cuda/dense.cuh"

namespace statestream::models::cuda {

namespace {

constexpr unsigned kScanThreads = 128;

struct ScanArgs {
    const float* proj;          // {rows, proj_stride}: z, x, B, C, dt, lambda, theta
    std::uint64_t proj_stride;
    void* ssm;                  // {rows, H, P, N}: float or __nv_bfloat16
    float* prev_x;              // {rows, H, P}
    float* prev_b;              // {rows, H, R, N}
    float* angle;               // {rows, H, K}
    float* residual;            // {rows, H, K}
    const float* dt_bias;       // {H}
    const float* A;             // {H}
    const float* D;             // {H}
    const float* b_norm;        // {N}
    const float* c_norm;        // {N}
    const float* b_bias;        // {H, R, N}
    const float* c_bias;        // {H, R, N}
    const float* mimo_x;        // {H, R, P} or nullptr (SISO)
    const float* mimo_o;        // {H, R, P} or nullptr (SISO)
    float* y;                   // {rows, y_stride}, d_inner used
    std::uint64_t y_stride;
    std::uint64_t rows;
    unsigned H, P, N, G, R, K, d_inner, bc_dim;
    float eps;
    unsigned lanes;
};

// models/cpu/mamba3_scan.hpp advance_angle, line for line: the angle and its residual are an
// unevaluated sum kept in [0, 2 pi), reduced in double when a step leaves the range.
__device__ void advance_angle(float& angle, float& residual, float increment) {
    constexpr float kTwoPi = 6.283185307179586476925286766559f;
    constexpr double kWideTwoPi = 6.283185307179586476925286766559;
    const float b = __fadd_rn(increment, residual);
    const float sum = __fadd_rn(angle, b);
    const float b_part = __fsub_rn(sum, angle);
    const float error = __fadd_rn(__fsub_rn(angle, __fsub_rn(sum, b_part)), __fsub_rn(b, b_part));
    if (sum >= 0.0f && sum < kTwoPi) {
        angle = sum;
        residual = error;
        return;
    }
    double exact = static_cast<double>(sum) + static_cast<double>(error);
    exact -= kWideTwoPi * floor(exact / kWideTwoPi);
    angle = static_cast<float>(exact);
    if (angle >= kTwoPi) angle = 0.0f;
    residual = static_cast<float>(exact - static_cast<double>(angle));
}

// Shared memory, in floats: B, C and the previous B of every rank {R, N} each (first, so that
// they stay 16-byte aligned), x of this and the previous step times mimo_x {R, P} each, the
// rotation's cos and sin {K} each, and the 2R norm scales of B and C.
struct SharedLayout {
    unsigned b_now, c_now, b_prev, x_now, x_prev, cos_at, sin_at, scales, total;
    __host__ __device__ SharedLayout(unsigned R, unsigned N, unsigned P, unsigned K)
        : b_now(0), c_now(R * N), b_prev(2 * R * N), x_now(3 * R * N), x_prev(x_now + R * P),
          cos_at(x_prev + R * P), sin_at(cos_at + K), scales(sin_at + K), total(scales + 2 * R) {}
};

template <int kVec, class State>
__global__ void __launch_bounds__(kScanThreads) scan_kernel(ScanArgs a) {
    extern __shared__ __align__(16) float shared[];
    wait_for_previous_kernel();
    allow_next_kernel();
    const unsigned H = a.H, P = a.P, N = a.N, R = a.R, K = a.K, G = a.G;
    const SharedLayout at(R, N, P, K);
    float* b_now = shared + at.b_now;
    float* c_now = shared + at.c_now;
    float* b_prev = shared + at.b_prev;
    float* x_now = shared + at.x_now;
    float* x_prev = shared + at.x_prev;
    float* cos_k = shared + at.cos_at;
    float* sin_k = shared + at.sin_at;
    float* scales = shared + at.scales;
    const unsigned heads_per_group = H / G;
    const unsigned x_at = a.d_inner, b_at = 2 * a.d_inner, c_at = b_at + a.bc_dim;
    const unsigned dt_at = c_at + a.bc_dim, lam_at = dt_at + H, theta_at = lam_at + H;
    const unsigned warp = threadIdx.x / 32, warp_lane = threadIdx.x % 32, warps = blockDim.x / 32;
    const unsigned lane = threadIdx.x % a.lanes, seg = threadIdx.x / a.lanes;
    const unsigned rows_per_pass = blockDim.x / a.lanes;
    const unsigned chunks = N / kVec;
    const std::uint64_t items = a.rows * H;
    for (std::uint64_t item = blockIdx.x; item < items; item += gridDim.x) {
        const std::uint64_t b = item / H;  // item = b * H + h indexes every per-head state row
        const unsigned h = static_cast<unsigned>(item % H), g = h / heads_per_group;
        const float* row = a.proj + b * a.proj_stride;
        const float dt = softplus(row[dt_at + h] + a.dt_bias[h]);
        const float lam = sigmoid(row[lam_at + h]);
        const float alpha = expf(dt * a.A[h]);
        const float beta = (1.0f - lam) * dt * alpha;
        const float gamma = lam * dt;
        __syncthreads();  // the previous item is done with shared memory

        float* angle = a.angle + item * K;
        float* residual = a.residual + item * K;
        for (unsigned k = threadIdx.x; k < K; k += blockDim.x) {
            float phi = angle[k], phi_residual = residual[k];
            advance_angle(phi, phi_residual, __fmul_rn(dt, row[theta_at + k]));
            angle[k] = phi;
            residual[k] = phi_residual;
            cos_k[k] = cosf(phi + phi_residual);
            sin_k[k] = sinf(phi + phi_residual);
        }
        for (unsigned v = warp; v < 2 * R; v += warps) {  // B of rank v, then C of rank v - R
            const float* src = row + (v < R ? b_at + (v * G + g) * N : c_at + ((v - R) * G + g) * N);
            float sum_sq = 0.0f;
            for (unsigned n = warp_lane; n < N; n += 32) sum_sq += src[n] * src[n];
            sum_sq = group_sum(sum_sq, 32);
            if (warp_lane == 0) scales[v] = 1.0f / sqrtf(sum_sq / static_cast<float>(N) + a.eps);
        }
        const float* prev_b = a.prev_b + item * R * N;
        for (unsigned i = threadIdx.x; i < R * N; i += blockDim.x) b_prev[i] = prev_b[i];
        const float* x = row + x_at + h * P;
        const float* prev_x = a.prev_x + item * P;
        for (unsigned i = threadIdx.x; i < R * P; i += blockDim.x) {
            const unsigned r = i / P, p = i % P;
            if (a.mimo_x != nullptr) {
                const float m = a.mimo_x[(h * R + r) * P + p];
                x_now[i] = x[p] * m;
                x_prev[i] = prev_x[p] * m;
            } else {
                x_now[i] = x[p];
                x_prev[i] = prev_x[p];
            }
        }
        __syncthreads();

        // B and C of this step: normalised per rank and group, biased per head, rotated.
        for (unsigned i = threadIdx.x; i < 2 * R * K; i += blockDim.x) {
            const bool is_c = i >= R * K;
            const unsigned r = (is_c ? i - R * K : i) / K, k = i % K;
            const float* src = row + (is_c ? c_at : b_at) + (r * G + g) * N + 2 * k;
            const float* weight = (is_c ? a.c_norm : a.b_norm) + 2 * k;
            const float* bias = (is_c ? a.c_bias : a.b_bias) + (h * R + r) * N + 2 * k;
            const float scale = scales[is_c ? R + r : r];
            const float even = src[0] * scale * weight[0] + bias[0];
            const float odd = src[1] * scale * weight[1] + bias[1];
            float* dst = (is_c ? c_now : b_now) + r * N + 2 * k;
            dst[0] = even * cos_k[k] - odd * sin_k[k];
            dst[1] = even * sin_k[k] + odd * cos_k[k];
        }
        __syncthreads();
        // The previous step's x and B are in shared memory now: this step's take their place.
        for (unsigned i = threadIdx.x; i < R * N; i += blockDim.x) a.prev_b[item * R * N + i] = b_now[i];
        for (unsigned p = threadIdx.x; p < P; p += blockDim.x) a.prev_x[item * P + p] = x[p];

        //   state = alpha state + sum_r beta x_prev,r B_prev,r^T + gamma x_r B_r^T
        //   y = sum_r mimo_o,r (state . C_r + D x_r), gated by SiLU(z)
        State* head_state = static_cast<State*>(a.ssm) + item * P * N;
        const float d_skip = a.D[h];
        for (unsigned p0 = 0; p0 < P; p0 += rows_per_pass) {
            const unsigned p = p0 + seg;
            const bool valid = p < P;
            State* sp = head_state + static_cast<std::uint64_t>(valid ? p : 0) * N;
            float acc = 0.0f;  // rank 0's readout, taken while the state is in registers
            if (valid) {
                for (unsigned j = lane; j < chunks; j += a.lanes) {
                    float s[kVec];
                    if constexpr (kVec == 4) {
                        const float4 v = load_state4(sp, j);
                        s[0] = v.x;
                        s[1] = v.y;
                        s[2] = v.z;
                        s[3] = v.w;
                    } else {
                        s[0] = load_state1(sp, j);
                    }
#pragma unroll
                    for (int e = 0; e < kVec; ++e) {
                        const unsigned n = j * kVec + e;
                        float input = 0.0f;
                        for (unsigned r = 0; r < R; ++r) {
                            input += beta * x_prev[r * P + p] * b_prev[r * N + n] +
                                     gamma * x_now[r * P + p] * b_now[r * N + n];
                        }
                        s[e] = alpha * s[e] + input;
                        acc += s[e] * c_now[n];
                    }
                    if constexpr (kVec == 4) {
                        store_state4(sp, j, make_float4(s[0], s[1], s[2], s[3]));
                    } else {
                        store_state1(sp, j, s[0]);
                    }
                }
            }
            float y = 0.0f;
            for (unsigned r = 0; r < R; ++r) {
                if (r > 0) {  // later ranks read back the state this lane just wrote
                    acc = 0.0f;
                    if (valid) {
                        for (unsigned j = lane; j < chunks; j += a.lanes) {
#pragma unroll
                            for (int e = 0; e < kVec; ++e) {
                                const unsigned n = j * kVec + e;
                                acc += load_state1(sp, n) * c_now[r * N + n];
                            }
                        }
                    }
                }
                const float total = group_sum(acc, a.lanes);
                if (valid) {
                    const float term = total + d_skip * x_now[r * P + p];
                    y += a.mimo_o != nullptr ? a.mimo_o[(h * R + r) * P + p] * term : term;
                }
            }
            if (valid && lane == 0) {
                a.y[b * a.y_stride + h * P + p] = y * silu(row[h * P + p]);
            }
        }
    }
}

}  // namespace

std::size_t mamba3_shared_bytes(const Mamba3Spec& spec, const Mamba3Dims& dims) {
    const SharedLayout at(static_cast<unsigned>(dims.ranks), spec.d_state, spec.head_dim,
                          static_cast<unsigned>(dims.n_angles));
    return std::size_t{at.total} * sizeof(float);
}

cudaError_t mamba3_step(const Mamba3Device& layer, const LayerIo& io) {
    const Mamba3Spec& s = layer.spec;
    const Mamba3Dims& d = layer.dims;
    const auto d_inner = static_cast<unsigned>(d.d_inner);

    const LinearArgs in = input_projection(io, layer.in_proj,
                                            static_cast<unsigned>(d.in_proj_dim));
    cudaError_t status = linear_store(in, io.proj, io.proj_stride, io.stream, io.programmatic);
    if (status != cudaSuccess) return status;

    const bool vec4 = s.d_state % 4 == 0;
    const ScanArgs scan{io.proj, io.proj_stride, layer.ssm, layer.prev_x, layer.prev_b,
                        layer.angle, layer.angle_residual, layer.dt_bias, layer.A, layer.D,
                        layer.b_norm, layer.c_norm, layer.b_bias, layer.c_bias, layer.mimo_x,
                        layer.mimo_o, io.mix, io.mix_stride, io.rows,
                        static_cast<unsigned>(d.n_heads), s.head_dim, s.d_state, s.n_groups,
                        static_cast<unsigned>(d.ranks), static_cast<unsigned>(d.n_angles), d_inner,
                        static_cast<unsigned>(d.bc_dim), io.eps,
                        lanes_for(vec4 ? s.d_state / 4 : s.d_state)};
    const std::size_t shared = mamba3_shared_bytes(s, d);
    const unsigned grid = grid_for(io.rows * d.n_heads);
    status = SS_LAUNCH_SCAN(scan_kernel, vec4, layer.bf16_state, dim3(grid), dim3(kScanThreads), shared,
                            io.stream, io.programmatic, scan);
    if (status != cudaSuccess) return status;

    const LinearArgs out = output_projection(io, layer.out_proj, d_inner,
                                             {layer.norm_weight, d_inner / s.n_groups, io.eps});
    return linear_accumulate(out, io.h, io.h_stride, io.stream, io.programmatic);
}

}  // namespace statestream::models::cuda
