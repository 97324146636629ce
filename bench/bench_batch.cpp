#include "bench/bench_batch.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <unistd.h>

#include "engine/batch/batch_runner.hpp"
#include "engine/batch/enhance_task.hpp"
#include "engine/batch/input_list.hpp"
#include "engine/batch/transcribe_task.hpp"
#include "engine/io/audio_file.hpp"
#include "models/model_file.hpp"
#include "models/ssm_model.hpp"

namespace statestream::bench {

namespace {

namespace fs = std::filesystem;
namespace batch = engine::batch;

// Slices start this far apart in the source (wrapping around), so neighbouring files do not
// hold the same audio; 0.37 s is not a multiple of the 10 ms hop or of any source's length.
constexpr double kSliceStrideSeconds = 0.37;
// Files processed untimed before the rows: FFTW plans its transforms (FFTW_MEASURE, once per
// size and process), the enhancer measures its delay per rate, the model's pages come in.
constexpr std::size_t kWarmupFiles = 2;

struct Slices {
    std::vector<batch::BatchItem> items;
    std::uint32_t rate_hz = 0;
    std::uint32_t channels = 0;
    double audio_seconds = 0.0;  // all files together
};

fs::path source_file(const std::string& given, const char* shipped) {
    return given.empty() ? fs::path(STATESTREAM_SOURCE_DIR) / "data" / "audio" / shipped : fs::path(given);
}

Slices write_slices(const fs::path& source, const fs::path& folder, std::size_t files, double seconds) {
    engine::AudioFileReader reader(source);
    const std::uint32_t channels = reader.format().channels;
    const std::uint32_t rate = reader.format().rate_hz;
    std::vector<float> audio;
    std::vector<float> block(4096 * channels);
    while (const std::size_t got = reader.read_frames(block)) {
        audio.insert(audio.end(), block.begin(), block.begin() + static_cast<std::ptrdiff_t>(got * channels));
    }
    const std::size_t total = audio.size() / channels;
    const auto length = static_cast<std::size_t>(std::llround(seconds * rate));
    const auto stride = static_cast<std::size_t>(std::llround(kSliceStrideSeconds * rate));
    fs::create_directories(folder);
    std::vector<float> slice(length * channels);
    for (std::size_t i = 0; i < files; ++i) {
        const std::size_t start = i * stride % total;
        for (std::size_t t = 0; t < length; ++t) {
            const std::size_t from = (start + t) % total;  // wraps: a short source is looped
            std::copy_n(audio.begin() + static_cast<std::ptrdiff_t>(from * channels), channels,
                        slice.begin() + static_cast<std::ptrdiff_t>(t * channels));
        }
        engine::AudioFileWriter writer(folder / fmt::format("slice_{:03}.wav", i), rate, channels,
                                       engine::AudioFileType::kWav);
        writer.write(slice);
        writer.commit();
    }
    Slices slices;
    slices.items = batch::collect_inputs({{folder.string()}, {}, {}}).items;
    slices.rate_hz = rate;
    slices.channels = channels;
    slices.audio_seconds = static_cast<double>(files * length) / rate;
    return slices;
}

struct Row {
    const char* calls = "";
    std::size_t jobs = 0;
    double wall_s = 0.0;
    double cpu_s = 0.0;
    double audio_s = 0.0;
    std::size_t failed = 0;
    fs::path out;
    [[nodiscard]] double times_real_time() const { return wall_s > 0.0 ? audio_s / wall_s : 0.0; }
};

Row run_row(const batch::FileTask& task, const char* calls, const Slices& slices, std::size_t jobs,
            const fs::path& out) {
    const std::atomic<bool> never{false};
    batch::BatchOptions options;
    options.jobs = jobs;
    options.force = true;
    options.tick_seconds = 1.0;
    const batch::BatchResult result = batch::run_batch(task, slices.items, out, options, never);
    return {calls, result.jobs, result.progress.elapsed_seconds, result.cpu_seconds(),
            result.progress.audio_seconds, result.count(batch::FileStatus::kFailed), out};
}

void warm_up(const batch::FileTask& task, const Slices& slices, const fs::path& out) {
    const std::vector<batch::BatchItem> few(slices.items.begin(),
                                            slices.items.begin() + static_cast<std::ptrdiff_t>(
                                                std::min(kWarmupFiles, slices.items.size())));
    const std::atomic<bool> never{false};
    batch::BatchOptions options;
    options.jobs = 1;
    options.force = true;
    (void)batch::run_batch(task, few, out, options, never);
}

void print_rows(const std::vector<Row>& rows) {
    fmt::print("  {:<14} {:>4} {:>8} {:>8} {:>12} {:>13} {:>13} {:>7}\n", "model calls", "jobs", "wall s",
               "CPU s", "x real time", "vs step, same", "vs 1 job,", "failed");
    fmt::print("  {:<14} {:>4} {:>8} {:>8} {:>12} {:>13} {:>13} {:>7}\n", "", "", "", "", "(aggregate)",
               "jobs", "same calls", "");
    for (const Row& row : rows) {
        const auto same = [&](auto pick) {
            const auto it = std::find_if(rows.begin(), rows.end(), pick);
            return it == rows.end() || it->times_real_time() <= 0.0 ? 0.0
                                                                    : row.times_real_time() / it->times_real_time();
        };
        const double vs_step = same([&](const Row& r) { return r.jobs == row.jobs && std::string(r.calls) == "step-by-step"; });
        const double vs_one = same([&](const Row& r) { return r.jobs == 1 && std::string(r.calls) == row.calls; });
        fmt::print("  {:<14} {:>4} {:>8.2f} {:>8.2f} {:>12.1f} {:>12.2f}x {:>12.2f}x {:>7}\n", row.calls, row.jobs,
                   row.wall_s, row.cpu_s, row.times_real_time(), vs_step, vs_one, row.failed);
    }
}

std::vector<std::size_t> job_counts(const BatchBenchOptions& options) {
    const std::size_t many = options.jobs > 0 ? options.jobs : batch::available_cores();
    return many > 1 ? std::vector<std::size_t>{1, many} : std::vector<std::size_t>{1};
}

std::vector<Row> run_rows(const batch::FileTask& step, const batch::FileTask& chunked, const Slices& slices,
                          const BatchBenchOptions& options, const fs::path& work) {
    warm_up(step, slices, work / "warmup");
    warm_up(chunked, slices, work / "warmup");
    std::vector<Row> rows;
    for (const std::size_t jobs : job_counts(options)) {
        rows.push_back(run_row(step, "step-by-step", slices, jobs, work / fmt::format("step-{}", jobs)));
        rows.push_back(run_row(chunked, "chunked", slices, jobs, work / fmt::format("chunked-{}", jobs)));
    }
    return rows;
}

std::string slurp(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string load_average() {
    const std::string text = slurp("/proc/loadavg");
    return text.substr(0, text.find(' '));
}

void bench_enhance(const BatchBenchOptions& options, const fs::path& work) {
    const models::ModelFile file = models::ModelFile::load(options.enhancer_path);
    const models::SsmModel model(file);
    const fs::path source = source_file(options.enhance_input, "noisy_speech_48k.wav");
    const Slices slices = write_slices(source, work / "enhance-in", options.files, options.file_seconds);
    batch::EnhanceTaskConfig config;
    config.calls = batch::ModelCalls::kStepByStep;
    const batch::EnhanceTask step(model, config);
    config.calls = batch::ModelCalls::kChunked;
    const batch::EnhanceTask chunked(model, config);
    fmt::print("\nbatch enhance: {} files x {:.1f} s = {:.0f} s of audio per row, slices of {} ({} Hz, {} "
               "channel(s)), model {}; {}\n",
               slices.items.size(), options.file_seconds, slices.audio_seconds, source.filename().string(),
               slices.rate_hz, slices.channels, fs::path(options.enhancer_path).filename().string(),
               chunked.describe());
    const std::vector<Row> rows = run_rows(step, chunked, slices, options, work / "enhance");
    print_rows(rows);

    // The same outputs from both ways of calling the model, up to float rounding.
    double worst = 0.0;
    double peak = 0.0;
    for (const auto& item : slices.items) {
        engine::AudioFileReader a(rows.front().out / item.relative);
        engine::AudioFileReader b(rows[1].out / item.relative);
        std::vector<float> x(4096 * slices.channels), y(4096 * slices.channels);
        for (;;) {
            const std::size_t got = a.read_frames(x);
            if (got == 0 || b.read_frames(y) != got) break;
            for (std::size_t i = 0; i < got * slices.channels; ++i) {
                worst = std::max(worst, static_cast<double>(std::abs(x[i] - y[i])));
                peak = std::max(peak, static_cast<double>(std::abs(x[i])));
            }
        }
    }
    fmt::print("  chunked vs step-by-step outputs: max |difference| {:.2g} over {} files (peak sample {:.3f})\n",
               worst, slices.items.size(), peak);
}

void bench_transcribe(const BatchBenchOptions& options, const fs::path& work) {
    const models::ModelFile file = models::ModelFile::load(options.transcriber_path);
    const models::SsmModel model(file);
    const fs::path source = source_file(options.transcribe_input, "speech_16k.wav");
    const Slices slices = write_slices(source, work / "transcribe-in", options.files, options.file_seconds);
    batch::TranscribeTaskConfig config;
    if (options.choose_decoder) {
        BatchBenchDecoder decoder = options.choose_decoder(model);
        config.make_decoder = std::move(decoder.make);
        config.decoder_description = std::move(decoder.description);
    }
    config.calls = batch::ModelCalls::kStepByStep;
    const batch::TranscribeTask step(model, config);
    config.calls = batch::ModelCalls::kChunked;
    const batch::TranscribeTask chunked(model, config);
    fmt::print("\nbatch transcribe: {} files x {:.1f} s = {:.0f} s of audio per row, slices of {} ({} Hz, {} "
               "channel(s)), model {}; {}\n",
               slices.items.size(), options.file_seconds, slices.audio_seconds, source.filename().string(),
               slices.rate_hz, slices.channels, fs::path(options.transcriber_path).filename().string(),
               chunked.describe());
    const std::vector<Row> rows = run_rows(step, chunked, slices, options, work / "transcribe");
    print_rows(rows);

    std::size_t same = 0;
    for (const auto& item : slices.items) {
        fs::path name = item.relative;
        name.replace_extension(".txt");
        if (slurp(rows.front().out / name) == slurp(rows[1].out / name)) ++same;
    }
    fmt::print("  chunked vs step-by-step transcripts: {} of {} files identical\n", same, slices.items.size());
}

}  // namespace

int run_batch_bench(const BatchBenchOptions& options) {
    const fs::path work = fs::temp_directory_path() / fmt::format("statestream-bench-batch-{}", ::getpid());
    fs::remove_all(work);
    fmt::print("bench batch: aggregate speed of `statestream batch` (audio seconds per wall second, all jobs "
               "together); {} cores available to this process, load average {} at the start\n",
               batch::available_cores(), load_average());
    try {
        if (options.tasks != "transcribe") bench_enhance(options, work);
        if (options.tasks != "enhance") bench_transcribe(options, work);
    } catch (...) {
        fs::remove_all(work);
        throw;
    }
    fs::remove_all(work);
    fmt::print("\nload average {} at the end. Wall time, so other work on this machine slows every row; "
               "CPU s is the workers' thread CPU time.\n", load_average());
    return 0;
}

}  // namespace statestream::bench
