#pragma once
// How a whole-file run (engine::enhance_file, engine::transcribe_file) calls the model, and
// when it gives up. A file is not a live stream: all its audio is there, so the model need not
// be called once per 10 ms hop. Chunked, SsmModel::forward() runs over a block of hops and
// reads every weight once per block instead of once per hop; the recurrence, and so the
// result, is the same up to float rounding (tests/engine/test_batch_*.cpp). Step by step is
// the live chain, one step() per hop: what `statestream enhance` and `transcribe` run.

#include <atomic>
#include <cstddef>
#include <stdexcept>

namespace statestream::engine {

enum class ModelCalls { kStepByStep, kChunked };

// Hops per forward() call: 16 = 160 ms of audio. A block's spectra ({16, 481} complex for the
// enhancer) and the model's activations must stay in the core's L2 while the block goes
// through analysis, model and synthesis. Measured with the shipped models on one core of a
// 2-core EPYC VM (512 kB L2 per core): the enhancer ran about 130x real time at 16 hops, within
// 10 % of that from 4 to 32 hops, about 90x at 64 and 128 hops, and 85-120x step by step; the
// recogniser (greedy) was flat from 4 to 128 hops at about 80x, against 56x step by step. One
// block size for both keeps one figure to reason about; `statestream bench batch` measures the
// machine at hand.
inline constexpr std::size_t kFileChunkHops = 16;

struct FileRunOptions {
    ModelCalls calls = ModelCalls::kStepByStep;
    // kChunked: hops per forward() call. The enhancer rounds it up to a whole number of samples
    // at the file's rate (two hops at 22.05 kHz).
    std::size_t chunk_hops = kFileChunkHops;
    // When given, read before each block (enhance: one chunk of hops; transcribe: one read of
    // the file); once set, the run throws FileRunStopped. A batch sets it on Ctrl-C.
    const std::atomic<bool>* stop = nullptr;
};

// Thrown by a run that saw its stop flag: the file was abandoned, not failed. An output it was
// writing stays under "<out>.partial" for the caller to remove.
class FileRunStopped : public std::runtime_error {
public:
    FileRunStopped() : std::runtime_error("stopped") {}
};

// True when a stop was requested. acquire: pairs with the release store of whoever sets it.
[[nodiscard]] inline bool stop_requested(const FileRunOptions& options) noexcept {
    return options.stop != nullptr && options.stop->load(std::memory_order_acquire);
}

}  // namespace statestream::engine
