#include "engine/stream_runner.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "engine/io/audio_file.hpp"
#include "engine/io/block_sink.hpp"
#include "engine/non_realtime_pool.hpp"

namespace statestream::engine {

namespace {

constexpr std::string_view kDevicePrefix = "device:";
constexpr std::chrono::milliseconds kPollPeriod{5};
constexpr std::chrono::milliseconds kReportPeriod{250};

bool is_device(const std::string& spec) { return spec.rfind(kDevicePrefix, 0) == 0; }
std::string device_spec(const std::string& spec) { return spec.substr(kDevicePrefix.size()); }

// The sink side: a task on the pool that moves the worker's output into the sink until told to
// finish, then takes what is left. Errors end it and are kept for the control thread.
class SinkDrain {
public:
    SinkDrain(RealtimeWorker& worker, io::BlockSink& sink, std::size_t block_floats)
        : worker_(worker), sink_(sink), block_(block_floats) {}

    void operator()() noexcept {
        try {
            for (;;) {
                const bool finishing = finishing_.load(std::memory_order_acquire);
                bool moved = false;
                while (worker_.pop_output(block_)) {
                    apply_limit();
                    sink_.write(block_);
                    moved = true;
                }
                if (finishing) {
                    // The limit is set before finish(): a last block popped before it was set
                    // is still held by the sink and must be cut too (a 1-sample input file).
                    apply_limit();
                    return;
                }
                if (!moved) std::this_thread::sleep_for(std::chrono::milliseconds(2));
            }
        } catch (...) {
            error_ = std::current_exception();
            failed_.store(true, std::memory_order_release);
        }
    }

    // Thread: control. After this, the drain takes what the worker still has and returns.
    void finish() noexcept { finishing_.store(true, std::memory_order_release); }
    void limit_vectors(std::uint64_t vectors) noexcept { limit_.store(vectors, std::memory_order_release); }
    [[nodiscard]] bool failed() const noexcept { return failed_.load(std::memory_order_acquire); }
    [[nodiscard]] std::exception_ptr error() const noexcept { return error_; }

private:
    void apply_limit() {
        const std::uint64_t limit = limit_.load(std::memory_order_acquire);
        if (limit != std::numeric_limits<std::uint64_t>::max()) sink_.truncate_to(limit);
    }

    RealtimeWorker& worker_;
    io::BlockSink& sink_;
    std::vector<float> block_;
    std::atomic<bool> finishing_{false};
    std::atomic<bool> failed_{false};
    std::atomic<std::uint64_t> limit_{std::numeric_limits<std::uint64_t>::max()};
    std::exception_ptr error_;
};

std::string message_of(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown error";
    }
}

}  // namespace

const char* run_end_name(RunEnd end) noexcept {
    switch (end) {
        case RunEnd::kRunning: return "running";
        case RunEnd::kEndOfInput: return "end_of_input";
        case RunEnd::kStopRequested: return "stop_requested";
        case RunEnd::kTimeLimit: return "time_limit";
        case RunEnd::kDeviceLost: return "device_lost";
        case RunEnd::kFailed: return "failed";
        case RunEnd::kBadInput: return "bad_input";
    }
    return "unknown";
}

RunReport run_stream(Pipeline& pipeline, const WorkerConfig& worker_config,
                     const RunOptions& options, const std::atomic<bool>& stop,
                     const std::function<void(const RunReport&)>& on_poll) {
    RunReport report;
    report.pipeline_latency_s = pipeline.latency_seconds();
    const StageShape in_shape = pipeline.input();
    const StageShape out_shape = pipeline.output();
    const bool device_source = is_device(options.source);
    const bool device_sink = is_device(options.sink);

    std::optional<AudioFileReader> reader;
    if (!device_source) {
        reader.emplace(options.source);
        const auto& format = reader->format();
        if (in_shape.dim != 1 || static_cast<double>(format.rate_hz) != in_shape.rate_hz) {
            throw std::invalid_argument(fmt::format(
                "{}: the file is {} Hz; the pipeline takes {} Hz. Set \"input\": {{\"rate_hz\": "
                "{}}} and add a resample stage to {} Hz, or resample the file",
                options.source, format.rate_hz, in_shape.rate_hz, format.rate_hz, in_shape.rate_hz));
        }
        report.source = fmt::format("{} ({} Hz, {} channel(s){})", options.source, format.rate_hz,
                                    format.channels, format.channels > 1 ? ", mixed to mono" : "");
    }

    RealtimeWorker worker(pipeline, worker_config);
    std::unique_ptr<io::BlockSink> sink;
    if (options.make_sink) {
        sink = options.make_sink(out_shape);
        report.sink = sink->describe();
    } else if (!device_sink) {
        sink = io::make_block_sink(options.sink, out_shape);
        report.sink = sink->describe();
    }
    std::optional<io::AudioDeviceStream> audio;
    if (device_source || device_sink) {
        io::AudioStreamConfig config;
        if (device_source) config.capture_device = device_spec(options.source);
        if (device_sink) config.playback_device = device_spec(options.sink);
        config.sample_rate_hz = device_source ? in_shape.rate_hz : out_shape.rate_hz;
        config.frames_per_buffer = options.frames_per_buffer;
        config.suggested_latency_s = options.suggested_latency_s;
        audio.emplace(config, worker, options.observer);
        if (device_source) report.source = audio->describe();
        if (device_sink) report.sink = audio->describe();
    }

    const auto input_seconds = [&] {
        if (reader) return static_cast<double>(reader->position()) / in_shape.rate_hz;
        if (audio && device_source) {
            return static_cast<double>(audio->counters().frames_captured) / in_shape.rate_hz;
        }
        return 0.0;
    };
    const auto fill_report = [&] {
        report.worker = worker.counters();
        report.steps = worker.meter().statistics();
        if (audio) report.audio = audio->counters();
        report.input_seconds = input_seconds();
        if (sink) report.vectors_written = sink->vectors_written();
        else if (report.audio) report.vectors_written = report.audio->blocks_played * out_shape.block;
    };

    worker.start();
    NonRealtimePool pool;
    std::optional<SinkDrain> drain;
    if (sink) {
        drain.emplace(worker, *sink, out_shape.floats());
        pool.run([&drain] { (*drain)(); });
    }
    if (audio) audio->start();

    std::vector<float> block(in_shape.floats(), 0.0f);
    auto last_report = std::chrono::steady_clock::now();
    bool input_done = false;
    while (!input_done) {
        if (stop.load(std::memory_order_acquire)) {
            report.end = RunEnd::kStopRequested;
            break;
        }
        if (drain && drain->failed()) {
            report.end = RunEnd::kFailed;
            report.detail = message_of(drain->error());
            break;
        }
        if (options.max_seconds && report.input_seconds >= *options.max_seconds) {
            report.end = RunEnd::kTimeLimit;
            break;
        }
        if (audio && audio->health(options.device_timeout) == io::AudioStreamHealth::kDeviceLost) {
            report.end = RunEnd::kDeviceLost;
            report.detail = fmt::format(
                "the audio device stopped ({}); no callback for {} ms or the host reported the "
                "stream inactive. Check that the device is still connected (and the JACK server "
                "still running); the output so far is kept",
                audio->describe(), options.device_timeout.count());
            break;
        }
        if (reader) {
            // Pushed only when the worker will step it (backlog within the bound) and its
            // output will fit (room for everything queued, the step in progress and this one).
            const std::size_t queued = worker.input_backlog();
            if (queued > worker_config.max_backlog_steps || worker.output_room() < queued + 2) {
                std::this_thread::sleep_for(std::chrono::microseconds(200));
            } else {
                std::size_t got = 0;
                try {
                    got = reader->read_mono(block);
                } catch (const AudioFileError& error) {
                    report.end = RunEnd::kBadInput;
                    report.detail = error.what();
                    break;
                } catch (const std::exception& error) {
                    report.end = RunEnd::kFailed;
                    report.detail = error.what();
                    break;
                }
                // One NaN would stay in every recurrent state after it and turn all later
                // outputs into NaN: the block is not pushed, the run ends as enhance's does.
                const auto bad = std::find_if(block.begin(), block.begin() + static_cast<std::ptrdiff_t>(got),
                                              [](float x) { return !std::isfinite(x); });
                if (bad != block.begin() + static_cast<std::ptrdiff_t>(got)) {
                    report.end = RunEnd::kBadInput;
                    report.detail = fmt::format(
                        "'{}': sample {} is {}; fix or cut the input there", options.source,
                        reader->position() - got + static_cast<std::size_t>(bad - block.begin()),
                        std::isnan(*bad) ? "NaN" : "infinite");
                    break;
                }
                if (got == 0) {
                    report.end = RunEnd::kEndOfInput;
                    input_done = true;
                } else {
                    // The last block is padded with silence; the sink keeps only what the
                    // input covers.
                    std::fill(block.begin() + static_cast<std::ptrdiff_t>(got), block.end(), 0.0f);
                    while (!worker.push_input(block)) std::this_thread::sleep_for(std::chrono::microseconds(200));
                    if (got < in_shape.block) {
                        report.end = RunEnd::kEndOfInput;
                        input_done = true;
                    }
                }
            }
        } else {
            std::this_thread::sleep_for(kPollPeriod);
        }
        report.input_seconds = input_seconds();
        if (on_poll && std::chrono::steady_clock::now() - last_report >= kReportPeriod) {
            last_report = std::chrono::steady_clock::now();
            fill_report();  // percentiles and counters: only when someone may ask for them
            on_poll(report);
        }
    }

    if (reader && drain && out_shape.dim == 1) {
        const double ratio = out_shape.rate_hz / in_shape.rate_hz;
        drain->limit_vectors(static_cast<std::uint64_t>(
            std::ceil(static_cast<double>(reader->position()) * ratio)));
    }
    if (audio && device_sink && report.end == RunEnd::kEndOfInput) {
        // Let the device play what the worker still holds before stopping it.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2) +
                              std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                  std::chrono::duration<double>(worker_config.ring_steps *
                                                                pipeline.step_seconds()));
        while (std::chrono::steady_clock::now() < deadline &&
               audio->health(options.device_timeout) == io::AudioStreamHealth::kRunning) {
            const auto counters = worker.counters();
            if (audio->counters().blocks_played >= counters.processed + counters.passed_through &&
                worker.input_backlog() == 0) {
                break;
            }
            std::this_thread::sleep_for(kPollPeriod);
        }
    }
    if (audio) audio->stop();
    worker.stop();  // steps what is queued, then joins
    if (drain) drain->finish();
    pool.wait();
    fill_report();
    if (sink) {
        if (drain->failed() && report.end != RunEnd::kFailed) {
            report.end = RunEnd::kFailed;
            report.detail = message_of(drain->error());
        }
        try {
            sink->finish();
        } catch (const std::exception& error) {
            report.end = RunEnd::kFailed;
            report.detail = error.what();
        }
        // A sink may hold its last block until finish() (AudioFileSink does).
        report.vectors_written = sink->vectors_written();
    }
    return report;
}

std::string run_report_json(const RunReport& report) {
    nlohmann::ordered_json doc;
    doc["schema"] = "statestream.run/1";
    doc["end"] = run_end_name(report.end);
    doc["detail"] = report.detail;
    doc["source"] = report.source;
    doc["sink"] = report.sink;
    doc["input_seconds"] = report.input_seconds;
    doc["vectors_written"] = report.vectors_written;
    doc["pipeline_latency_ms"] = report.pipeline_latency_s * 1e3;
    doc["worker"] = {{"pushed", report.worker.pushed},
                     {"input_overruns", report.worker.input_overruns},
                     {"processed", report.worker.processed},
                     {"passed_through", report.worker.passed_through},
                     {"dropped", report.worker.dropped},
                     {"output_overruns", report.worker.output_overruns}};
    doc["steps"] = nlohmann::ordered_json::parse(statistics_json(report.steps));
    if (report.audio) {
        const auto& a = *report.audio;
        doc["audio"] = {{"callbacks", a.callbacks},
                        {"frames_captured", a.frames_captured},
                        {"blocks_pushed", a.blocks_pushed},
                        {"blocks_refused", a.blocks_refused},
                        {"frames_played", a.frames_played},
                        {"blocks_played", a.blocks_played},
                        {"priming_frames", a.priming_frames},
                        {"underflow_frames", a.underflow_frames},
                        {"host_input_overflows", a.host_input_overflows},
                        {"host_output_underflows", a.host_output_underflows}};
    }
    return doc.dump();
}

std::string run_report_text(const RunReport& report) {
    std::string text = fmt::format(
        "ended: {}{}{}\ninput: {:.2f} s from {}\noutput: {} vectors to {}\npipeline latency: "
        "{:.2f} ms\nworker: {} steps, {} passed through, {} dropped, {} input overruns, {} "
        "output overruns\nsteps: {}\n",
        run_end_name(report.end), report.detail.empty() ? "" : ": ", report.detail,
        report.input_seconds, report.source, report.vectors_written, report.sink,
        report.pipeline_latency_s * 1e3, report.worker.processed, report.worker.passed_through,
        report.worker.dropped, report.worker.input_overruns, report.worker.output_overruns,
        statistics_line(report.steps));
    if (report.audio) {
        const auto& a = *report.audio;
        text += fmt::format(
            "audio: {} callbacks, {} frames captured ({} blocks in, {} refused), {} frames "
            "played ({} blocks, {} priming, {} underflow), host flags {} input / {} output\n",
            a.callbacks, a.frames_captured, a.blocks_pushed, a.blocks_refused, a.frames_played,
            a.blocks_played, a.priming_frames, a.underflow_frames, a.host_input_overflows,
            a.host_output_underflows);
    }
    return text;
}

}  // namespace statestream::engine
