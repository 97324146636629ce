// `statestream bench ssm`: speed of the SSM core, with ratios against baselines measured in the
// same run. Benchmarks never pass or fail; they print.

#include "apps/subcommand.hpp"
#include "bench/bench_dsp.hpp"
#include "bench/bench_engine.hpp"
#include "bench/bench_ssm.hpp"

namespace statestream::apps {

Subcommand add_bench_command(CLI::App& parent) {
    auto options = std::make_shared<bench::SsmBenchOptions>();
    CLI::App* cli = parent.add_subcommand(
        "bench", "Benchmarks that print ratios against a baseline measured in the same run.");
    cli->require_subcommand(1);
    CLI::App* ssm = cli->add_subcommand(
        "ssm", "SSM core, every block type: state update per element vs a read+write of the "
               "same floats and vs the scalar kernel, whole-block step, forward() over a chunk "
               "vs repeated step(), batched steps over B = 1, 8, 64 streams, and the PyTorch "
               "reference's step time when python3-torch is installed.");
    ssm->add_option("--seconds", options->seconds_per_case, "CPU seconds per measured case")
        ->check(CLI::Range(0.01, 60.0));
    auto dsp_options = std::make_shared<bench::DspBenchOptions>();
    CLI::App* dsp = cli->add_subcommand(
        "dsp", "Signal front-ends at 48 kHz, 10 ms hop: STFT + 64 ERB bands + gains + iSTFT per "
               "hop vs the same chain with FFTW plans made per call (FFTW_ESTIMATE), its parts, "
               "and the speech front-end (resampling to 16 kHz, log-mel).");
    dsp->add_option("--seconds", dsp_options->seconds_per_case, "CPU seconds per measured case")
        ->check(CLI::Range(0.01, 60.0));
    auto engine_options = std::make_shared<bench::EngineBenchOptions>();
    CLI::App* engine = cli->add_subcommand(
        "engine", "Runtime: SPSC ring throughput and one-way latency between two threads vs a "
                  "mutex + condition-variable queue, and the pipeline's overhead per step beyond "
                  "the model itself.");
    engine->add_option("--seconds", engine_options->seconds_per_case, "Scale of each measured case")
        ->check(CLI::Range(0.01, 60.0));
    return {cli, [cli, ssm, options, dsp_options, engine_options]() {
                int status = 0;
                if (ssm->parsed()) status = bench::run_ssm_bench(*options);
                if (cli->got_subcommand("dsp")) status = bench::run_dsp_bench(*dsp_options);
                if (cli->got_subcommand("engine")) status = bench::run_engine_bench(*engine_options);
                return status == 0 ? ExitCode::kSuccess : ExitCode::kRuntimeFailure;
            }};
}

}  // namespace statestream::apps
