#pragma once
// `statestream bench forecast`: the forecaster's costs in the terms STAC-ML reports inference
// over market data: CPU time per model step (p50, p99, max) at 1 stream and at N streams; model
// throughput in stream-ticks per second, batched over streams on oneTBB, beside the same model
// stepped one stream-tick at a time in the same run (and the ratio); end-to-end throughput of
// the command's path (tick CSV text parsed, forecast, formatted as CSV lines), memory per
// stream, and how far the batched forecasts are from the one-at-a-time ones (the reference).
// The ticks are synthetic seasonal random walks, generated in memory from a fixed seed. A
// benchmark never passes or fails; it prints.

#include <cstddef>
#include <cstdint>
#include <string>

namespace statestream::bench {

struct ForecastBenchOptions {
    std::string model_path;     // a forecasting model file
    std::size_t streams = 256;  // N: streams in the multi-stream rows
    std::size_t ticks = 400;    // ticks per stream
    std::size_t threads = 0;    // oneTBB threads for the batched row: 0 = every core
    std::uint64_t seed = 7;     // of the synthetic ticks
    bool json = false;          // one JSON object (statestream.bench.forecast/1) instead
};

// Thread: main. Prints to stdout; returns 0. Throws std::invalid_argument (not a forecasting
// model, or sizes out of range), naming the file or option.
int run_forecast_bench(const ForecastBenchOptions& options);

}  // namespace statestream::bench
