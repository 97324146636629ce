// Every SSD scan kernel against a float64 recurrence written out here, on seeded random inputs
// with awkward sizes (d_state 40: two 16-wide blocks and a tail; 2 groups; 33 rows).

#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "models/cpu/ssd_scan.hpp"
#include "tests/support/fixture_file.hpp"

using namespace statestream::models::cpu;

namespace {

struct ScanCase {
    SsdScanShape shape{4, 5, 40, 2, 20, 20 + 2 * 2 * 40};
    std::size_t rows = 33;
    std::vector<float> xbc, dt, A, D, state;
    explicit ScanCase(unsigned seed) {
        std::mt19937 rng(seed);
        std::normal_distribution<float> normal(0.0f, 1.0f);
        std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
        xbc.resize(rows * shape.row_stride);
        for (float& v : xbc) v = normal(rng);
        dt.resize(rows * shape.n_heads);
        for (float& v : dt) v = 0.001f + 0.1f * uniform(rng);
        A.resize(shape.n_heads);
        for (float& v : A) v = -(1.0f + 15.0f * uniform(rng));
        D.resize(shape.n_heads);
        for (float& v : D) v = normal(rng);
        state.resize(shape.n_heads * shape.head_dim * shape.d_state);
        for (float& v : state) v = normal(rng);
    }
};

// The recurrence in double, straight from its definition.
std::vector<double> reference_scan(const ScanCase& c, std::vector<double>& state) {
    const auto& s = c.shape;
    std::vector<double> y(c.rows * s.d_inner);
    for (std::size_t t = 0; t < c.rows; ++t) {
        const float* row = c.xbc.data() + t * s.row_stride;
        for (std::size_t h = 0; h < s.n_heads; ++h) {
            const std::size_t g = h / (s.n_heads / s.n_groups);
            const double dt = c.dt[t * s.n_heads + h];
            const double decay = std::exp(dt * c.A[h]);
            for (std::size_t p = 0; p < s.head_dim; ++p) {
                const double x = row[h * s.head_dim + p];
                double acc = 0.0;
                for (std::size_t n = 0; n < s.d_state; ++n) {
                    double& st = state[(h * s.head_dim + p) * s.d_state + n];
                    st = st * decay + dt * x * row[s.d_inner + g * s.d_state + n];
                    acc += st * row[s.d_inner + s.n_groups * s.d_state + g * s.d_state + n];
                }
                y[t * s.d_inner + h * s.head_dim + p] = acc + c.D[h] * x;
            }
        }
    }
    return y;
}

}  // namespace

TEST_CASE("SSD scan kernels match a float64 recurrence", "[models][kernels]") {
    const ScanCase c(11);
    std::vector<double> ref_state(c.state.begin(), c.state.end());
    const auto ref_y = reference_scan(c, ref_state);

    std::vector<SsdScanKernel> kernels = {&ssd_scan_scalar};
    if (cpu_has_avx2_fma()) kernels.push_back(&ssd_scan_avx2);
    else WARN("SKIPPED: the AVX2+FMA kernel (this CPU lacks AVX2 or FMA)");
    for (const SsdScanKernel kernel : kernels) {
        std::vector<float> state = c.state;
        std::vector<float> y(c.rows * c.shape.d_inner, NAN);
        kernel(c.shape, c.xbc.data(), c.dt.data(), c.A.data(), c.D.data(), state.data(), y.data(), c.rows);
        const double y_err = statestream::test::relative_error(y, ref_y);
        const double state_err = statestream::test::relative_error(state, ref_state);
        INFO("kernel " << ssd_scan_kernel_name(kernel) << ": y error " << y_err << ", state error " << state_err);
        CHECK(y_err < 1e-5);
        CHECK(state_err < 1e-5);
    }
}
