// `statestream bench ssm|dsp|engine|enhance|transcribe|forecast|soak|batch`: speed of the SSM core, the
// signal front-ends, the runtime, the two speech chains, the tick forecaster and batches of files, each with ratios against baselines
// measured in the same run. Benchmarks never pass or fail; they print.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <stdexcept>

#include "apps/model_search.hpp"
#include "apps/subcommand.hpp"
#include "apps/transcriber_setup.hpp"
#include "bench/bench_batch.hpp"
#include "bench/bench_dsp.hpp"
#include "bench/bench_engine.hpp"
#include "bench/bench_enhance.hpp"
#include "bench/bench_forecast.hpp"
#include "bench/bench_soak.hpp"
#include "bench/bench_ssm.hpp"
#include "bench/bench_transcribe.hpp"
#include "engine/io/audio_file.hpp"

namespace statestream::apps {

Subcommand add_bench_command(CLI::App& parent) {
    CLI::App* cli = parent.add_subcommand(
        "bench", "Benchmarks that print ratios against a baseline measured in the same run.");
    cli->require_subcommand(1);

    // Each benchmark: a name, what it measures, and its --seconds knob; the one given runs.
    auto runs = std::make_shared<std::vector<std::pair<CLI::App*, std::function<int()>>>>();
    const auto add = [&](const char* name, const char* what, double& seconds,
                         std::function<int()> run) {
        CLI::App* bench = cli->add_subcommand(name, what);
        bench->add_option("--seconds", seconds, "CPU seconds per measured case")
            ->check(CLI::Range(0.01, 60.0));
        runs->emplace_back(bench, std::move(run));
    };
    auto ssm = std::make_shared<bench::SsmBenchOptions>();
    add("ssm",
        "SSM core, every block type: state update per element vs a read+write of the same "
        "floats and vs the scalar kernel, whole-block step, forward() over a chunk vs repeated "
        "step(), batched steps over B = 1, 8, 64 streams, and the PyTorch reference's step time "
        "when python3-torch is installed.",
        ssm->seconds_per_case, [ssm] { return bench::run_ssm_bench(*ssm); });
    auto dsp = std::make_shared<bench::DspBenchOptions>();
    add("dsp",
        "Signal front-ends at 48 kHz, 10 ms hop: STFT + 64 ERB bands + gains + iSTFT per hop vs "
        "the same chain with FFTW plans made per call (FFTW_ESTIMATE), its parts, and the speech "
        "front-end (resampling to 16 kHz, log-mel).",
        dsp->seconds_per_case, [dsp] { return bench::run_dsp_bench(*dsp); });
    auto engine = std::make_shared<bench::EngineBenchOptions>();
    add("engine",
        "Runtime: SPSC ring throughput and one-way latency between two threads vs a mutex + "
        "condition-variable queue, and the pipeline's overhead per step beyond the model itself.",
        engine->seconds_per_case, [engine] { return bench::run_engine_bench(*engine); });
    auto enhance = std::make_shared<bench::EnhanceBenchOptions>();
    add("enhance",
        "The speech enhancer on one core: CPU time per 10 ms hop (mean, p50, p90, p99, max) and "
        "real-time factor at 48 and 16 kHz, beside speexdsp's denoiser on the same audio.",
        enhance->seconds_per_case, [enhance] {
            if (enhance->model_path.empty()) {
                enhance->model_path = find_shipped_model("enhancer.safetensors").string();
            }
            return bench::run_enhance_bench(*enhance);
        });
    runs->back().first->add_option("--model", enhance->model_path,
                                   "Enhancer model file (default: the shipped one)");
    auto transcribe = std::make_shared<bench::TranscribeBenchOptions>();
    auto transcribe_decoder = std::make_shared<DecoderOptions>();
    add("transcribe",
        "The speech recogniser on one core, over a speech file, with the default decoder (beam "
        "search + word LM, as transcribe runs it) and with greedy CTC: RTF and RTFx of the whole "
        "chain, CPU time per 10 ms step (mean, p50, p90, p99, max; front-end, model, decoder), live "
        "streams per core with the default decoder, algorithmic latency and the live sink's first "
        "partial and final, beside pocketsphinx decoding the same audio.",
        transcribe->seconds_per_case, [transcribe, transcribe_decoder] {
            if (transcribe->model_path.empty()) {
                transcribe->model_path = find_shipped_model(kShippedTranscriber).string();
            }
            // The decoder `statestream transcribe` would pick for this model and these options.
            transcribe->choose_decoder = [model_path = transcribe->model_path,
                                          transcribe_decoder](const models::SsmModel& model) {
                DecoderChoice choice = choose_decoder(*transcribe_decoder, model, model_path);
                return bench::BenchDecoder{choice.name, choice.description, std::move(choice.make)};
            };
            try {
                return bench::run_transcribe_bench(*transcribe);
            } catch (const std::invalid_argument& error) {  // not a transcriber: exit 2
                throw BadInputError(error.what());
            } catch (const engine::AudioFileError& error) {  // input not audio: exit 2
                throw BadInputError(error.what());
            }
        });
    CLI::App* transcribe_cli = runs->back().first;
    transcribe_cli->add_option("--model", transcribe->model_path,
                               "Transcriber model file (default: the shipped one)");
    transcribe_cli->add_option("--input", transcribe->input_path,
                               "Speech file, any format and rate libsndfile reads (default: "
                               "data/audio/speech_16k.wav)")
        ->check(CLI::ExistingFile);
    transcribe_cli->add_option("--endpoint", transcribe->endpoint_seconds,
                               "The live sink's endpoint in seconds, as transcribe --endpoint")
        ->check(CLI::Range(0.1, 10.0))
        ->capture_default_str();
    transcribe_cli->add_option("--max-streams", transcribe->max_streams,
                               "Largest number of live streams to try")
        ->check(CLI::Range(1, 4096))
        ->capture_default_str();
    add_decoder_options(*transcribe_cli, *transcribe_decoder);
    transcribe_cli->add_flag("--json", transcribe->json,
                             "One JSON object (statestream.bench.transcribe/2) instead of the tables");
    transcribe_cli->add_flag("--replay", transcribe->replay_only,
                             "Only replay the input through the live transcript sink with the default "
                             "decoder (--lm, --beam), untimed: each partial and final as a JSON line "
                             "with the input time (at_s) of the step that fired it");

    // No --seconds: its work is sized in streams and ticks, so every row sees the same ticks.
    auto forecast = std::make_shared<bench::ForecastBenchOptions>();
    CLI::App* forecast_cli = cli->add_subcommand(
        "forecast",
        "The tick forecaster, STAC-ML style: CPU time per step (p50, p99, max) at 1 and N streams, "
        "model throughput in stream-ticks/s batched over streams on oneTBB vs one stream-tick at a "
        "time in the same run, end to end (parse, forecast, format), memory per stream, and the "
        "batched forecasts' largest difference from the one-at-a-time ones.");
    forecast_cli->add_option("--model", forecast->model_path,
                             "Forecasting model file (default: the shipped one)");
    forecast_cli->add_option("--streams", forecast->streams, "N: streams in the multi-stream rows")
        ->check(CLI::Range(2, 65536))
        ->capture_default_str();
    forecast_cli->add_option("--ticks", forecast->ticks, "Ticks per stream")
        ->check(CLI::Range(10, 10000000))
        ->capture_default_str();
    forecast_cli->add_option("--threads", forecast->threads, "oneTBB threads of the batched row (0: every core)")
        ->check(CLI::Range(0, 1024))
        ->capture_default_str();
    forecast_cli->add_flag("--json", forecast->json,
                           "One JSON object (statestream.bench.forecast/1) instead of the tables");
    runs->emplace_back(forecast_cli, [forecast] {
        if (forecast->model_path.empty()) {
            forecast->model_path = find_shipped_model("forecaster.safetensors").string();
        }
        try {
            return bench::run_forecast_bench(*forecast);
        } catch (const std::invalid_argument& error) {  // not a forecaster: exit 2
            throw BadInputError(error.what());
        }
    });

    // No --seconds: its length is a step count, the point being what happens after many steps.
    auto soak = std::make_shared<bench::SoakBenchOptions>();
    CLI::App* soak_cli = cli->add_subcommand(
        "soak",
        "Ten million steps of each shipped model and of a small model of each block type, one "
        "stream, one step() per call: per-step thread CPU time (p50, p99, p99.9, max) over the "
        "first and the last million steps beside the clock read alone, and resident memory "
        "after the first step and after the last; --callgrind-windows instead marks an early and a late window for "
        "callgrind (scripts/soak_callgrind.sh).");
    soak_cli->add_option("--steps", soak->steps, "Steps per case")
        ->check(CLI::Range(std::uint64_t{2}, std::uint64_t{1'000'000'000'000}))
        ->capture_default_str();
    soak_cli->add_option("--window", soak->window_steps, "Steps in each timed window (first, last)")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}))
        ->capture_default_str();
    soak_cli->add_option("--model", soak->model_paths,
                         "Model files to soak (repeatable; default: every shipped model)")
        ->check(CLI::ExistingFile);
    soak_cli->add_option("--only", soak->only,
                         "Only cases whose key contains this (keys: shipped file stems, mamba1, "
                         "mamba2, mamba3-siso, mamba3-mimo, attention)");
    soak_cli->add_flag("--callgrind-windows", soak->callgrind_windows,
                       "Untimed: instrument an early and a late window under valgrind --tool=callgrind "
                       "--instr-atstart=no, dumping each on its own");
    soak_cli->add_option("--callgrind-window", soak->callgrind_window_steps, "Steps per callgrind window")
        ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{10'000'000}))
        ->capture_default_str();
    soak_cli->add_option("--save-states", soak->save_states_dir,
                         "Save each case's state at the callgrind windows' first steps into this folder");
    soak_cli->add_option("--states", soak->load_states_dir,
                         "With --callgrind-windows: start each window from the state --save-states "
                         "saved there (same --steps), instead of stepping up to it")
        ->check(CLI::ExistingDirectory);
    runs->emplace_back(soak_cli, [soak] {
        if (soak->model_paths.empty()) {
            const auto dir = find_shipped_model("tiny_mamba2.safetensors").parent_path();
            for (const auto& entry : std::filesystem::directory_iterator(dir)) {
                if (entry.path().extension() == ".safetensors") soak->model_paths.push_back(entry.path().string());
            }
            std::sort(soak->model_paths.begin(), soak->model_paths.end());
        }
        try {
            return bench::run_soak_bench(*soak);
        } catch (const std::invalid_argument& error) {  // sizes or --only out of range: exit 2
            throw BadInputError(error.what());
        }
    });

    // No --seconds: every row processes all the files, so the rows compare the same work.
    auto batch = std::make_shared<bench::BatchBenchOptions>();
    auto batch_decoder = std::make_shared<DecoderOptions>();
    CLI::App* batch_cli = cli->add_subcommand(
        "batch",
        "Many files as `statestream batch` runs them: aggregate speed (x real time, all jobs together) "
        "for enhance and transcribe, the model stepped per hop vs run over chunks with forward(), on "
        "one job and on every core, over the same files in the same run; and whether both ways wrote "
        "the same outputs.");
    runs->emplace_back(batch_cli, [batch, batch_decoder] {
        if (batch->enhancer_path.empty()) {
            batch->enhancer_path = find_shipped_model("enhancer.safetensors").string();
        }
        if (batch->transcriber_path.empty()) {
            batch->transcriber_path = find_shipped_model(kShippedTranscriber).string();
        }
        // The decoder `statestream batch transcribe` would pick for this model and these options.
        batch->choose_decoder = [model_path = batch->transcriber_path,
                                 batch_decoder](const models::SsmModel& model) {
            DecoderChoice choice = choose_decoder(*batch_decoder, model, model_path);
            return bench::BatchBenchDecoder{choice.description, std::move(choice.make)};
        };
        try {
            return bench::run_batch_bench(*batch);
        } catch (const std::invalid_argument& error) {  // a model of the wrong task: exit 2
            throw BadInputError(error.what());
        } catch (const engine::AudioFileError& error) {  // input not audio: exit 2
            throw BadInputError(error.what());
        }
    });
    batch_cli->add_option("--files", batch->files, "Files per task (slices of the input)")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    batch_cli->add_option("--file-seconds", batch->file_seconds, "Length of each file")
        ->check(CLI::Range(0.1, 3600.0))
        ->capture_default_str();
    batch_cli->add_option("--jobs", batch->jobs, "Jobs of the many-jobs rows (default: every core)")
        ->check(CLI::Range(1, 1024));
    batch_cli->add_option("--task", batch->tasks, "enhance, transcribe or both")
        ->check(CLI::IsMember({"enhance", "transcribe", "both"}))
        ->capture_default_str();
    batch_cli->add_option("--enhancer", batch->enhancer_path, "Enhancer model (default: the shipped one)");
    batch_cli->add_option("--transcriber", batch->transcriber_path,
                          "Transcriber model (default: the shipped one)");
    batch_cli->add_option("--enhance-input", batch->enhance_input,
                          "Audio the enhance files are cut from (default: data/audio/noisy_speech_48k.wav)")
        ->check(CLI::ExistingFile);
    batch_cli->add_option("--transcribe-input", batch->transcribe_input,
                          "Audio the transcribe files are cut from (default: data/audio/speech_16k.wav)")
        ->check(CLI::ExistingFile);
    add_decoder_options(*batch_cli, *batch_decoder);

    return {cli, [runs]() {
                int status = 0;
                for (const auto& [bench, run] : *runs) {
                    if (bench->parsed()) status = run();
                }
                return status == 0 ? ExitCode::kSuccess : ExitCode::kRuntimeFailure;
            }};
}

}  // namespace statestream::apps
