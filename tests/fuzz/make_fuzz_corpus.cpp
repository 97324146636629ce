// Writes the seed corpora of the snapshot and audio fuzz targets (docs/fuzzing.md): a few valid
// inputs made by the project's own writers from the shipped models, and near-valid ones that
// each break one rule the reader checks. Run from the repository root after building:
//
//   build/asan/tests/make_fuzz_corpus tests/fuzz/corpus
//
// Regenerating gives the same bytes except in two places, neither of which changes what the
// seeds cover: the Ogg seed's stream serial number, which libsndfile draws at random, and the
// model-state floats of the stream snapshots after blocks have run, whose last bits follow the
// log-mel stage's FFT plan (FFTW_MEASURE picks it by timing).

#include <sndfile.h>

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "engine/forecast/forecast_state_file.hpp"
#include "engine/forecast/quantile_readout.hpp"
#include "engine/forecast/tick_features.hpp"
#include "engine/pipeline_description.hpp"
#include "engine/stream_snapshot.hpp"
#include "models/model_file.hpp"
#include "models/safetensors_writer.hpp"
#include "models/ssm_model.hpp"
#include "models/state_snapshot.hpp"
#include "tests/fuzz/float_patches.hpp"

namespace fs = std::filesystem;
using namespace statestream;
using models::F32Tensor;
using models::write_safetensors;

namespace {

const fs::path kData(STATESTREAM_DATA_DIR);
// A fingerprint no shipped model has: 16 hex digits like a real one.
constexpr const char* kOtherFingerprint = "0123456789abcdef";

void write_bytes(const fs::path& path, std::span<const std::byte> bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
        std::fprintf(stderr, "%s: cannot write it\n", path.c_str());
        std::exit(1);
    }
    std::printf("%6zu  %s\n", bytes.size(), path.c_str());
}

// An input in the patch mode of tests/fuzz/float_patches.hpp: {index, kind, argument} each.
void write_patches(const fs::path& path, std::initializer_list<std::array<std::uint16_t, 3>> patches) {
    std::vector<std::byte> bytes;
    for (const std::uint8_t b : fuzz::kFloatPatchMagic) bytes.push_back(std::byte{b});
    for (const auto& [index, kind, argument] : patches) {
        for (const unsigned b : {index & 0xffu, unsigned{index} >> 8u, unsigned{kind}, unsigned{argument}}) {
            bytes.push_back(static_cast<std::byte>(b));
        }
    }
    write_bytes(path, bytes);
}

std::vector<std::byte> first_half(const std::vector<std::byte>& bytes) {
    return {bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() / 2)};
}

// Model state snapshots of the tiny model (models/state_snapshot.hpp).
void write_state_snapshots(const fs::path& dir) {
    const models::ModelFile file = models::ModelFile::load(kData / "models" / "tiny_mamba2.safetensors");
    const models::SsmModel model(file);
    models::StreamState state = model.make_state();
    write_bytes(dir / "zero.state", models::save_state(model, state));

    models::ModelWorkspace ws(model, 1);
    std::vector<float> x(model.input_dim());
    std::vector<float> y(model.output_dim());
    for (std::size_t t = 0; t < 16; ++t) {
        for (std::size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(t + i));
        model.step(state, ws, x, y);
    }
    const std::vector<std::byte> stepped = models::save_state(model, state);
    write_bytes(dir / "stepped.state", stepped);
    write_bytes(dir / "truncated.state", first_half(stepped));

    const auto snapshot = [&](const std::string& version, const std::string& fingerprint,
                              std::span<const float> values) {
        const std::map<std::string, std::string> metadata = {
            {"statestream_state", version},
            {"model_fingerprint", fingerprint},
            {"model_name", file.description().recipe.name},
            {"model_source", "tiny_mamba2.safetensors"}};
        const F32Tensor tensors[] = {{"state", values}};
        return write_safetensors(metadata, tensors);
    };
    write_bytes(dir / "version_2.state", snapshot("2", file.fingerprint(), state.values));
    write_bytes(dir / "other_model.state", snapshot("1", kOtherFingerprint, state.values));
    write_bytes(dir / "one_float_short.state",
                snapshot("1", file.fingerprint(),
                         std::span<const float>(state.values).first(state.values.size() - 1)));
    std::vector<float> with_nan = state.values;
    with_nan[3] = std::numeric_limits<float>::quiet_NaN();
    write_bytes(dir / "nan_value.state", snapshot("1", file.fingerprint(), with_nan));
    const std::map<std::string, std::string> model_like = {{"architecture", "{}"}};
    write_bytes(dir / "model_metadata.state", write_safetensors(model_like, {}));
}

// Stream snapshots of the speech pipeline (engine/stream_snapshot.hpp).
void write_stream_snapshots(const fs::path& dir) {
    engine::BuiltPipeline built = engine::build_pipeline(
        engine::load_pipeline_description(kData / "pipelines" / "speech_features.json"),
        kData / "pipelines");
    engine::Pipeline& pipeline = *built.pipeline;
    write_bytes(dir / "fresh.stream", engine::save_stream(pipeline));

    std::vector<float> in(pipeline.input().floats());
    std::vector<float> out(pipeline.output().floats());
    for (std::size_t block = 0; block < 12; ++block) {
        for (std::size_t i = 0; i < in.size(); ++i) {
            in[i] = 0.3f * std::sin(0.05f * static_cast<float>(block * in.size() + i));
        }
        pipeline.step(in, out);
    }
    const std::vector<std::byte> running = engine::save_stream(pipeline);
    write_bytes(dir / "running.stream", running);
    write_bytes(dir / "truncated.stream", first_half(running));

    // The same layout as save_stream(), with one thing changed per file.
    std::vector<float> state(pipeline.state_floats());
    pipeline.save_state(state);
    struct Edit {
        std::string stage_count;
        std::size_t renamed_stage = SIZE_MAX;  // its identity changed
        std::size_t short_stage = SIZE_MAX;    // one float short
        std::size_t nan_stage = SIZE_MAX;      // its first float NaN
        std::size_t resampler_float = SIZE_MAX;  // this float of stage 0 (the resampler) set to
        float resampler_value = 0.0f;            // resampler_value
    };
    const auto snapshot = [&](const Edit& edit) {
        std::map<std::string, std::string> metadata = {{"statestream_stream", "1"},
                                                       {"stages", edit.stage_count}};
        std::vector<std::vector<float>> parts;
        std::size_t at = 0;
        for (std::size_t i = 0; i < pipeline.size(); ++i) {
            const engine::Stage& stage = pipeline.stage(i);
            metadata["stage." + std::to_string(i)] =
                stage.identity() + (i == edit.renamed_stage ? " (edited)" : "");
            std::vector<float> part(state.begin() + static_cast<std::ptrdiff_t>(at),
                                    state.begin() + static_cast<std::ptrdiff_t>(at + stage.state_floats()));
            at += stage.state_floats();
            if (i == edit.short_stage && !part.empty()) part.pop_back();
            if (i == edit.nan_stage && !part.empty()) part[0] = std::numeric_limits<float>::quiet_NaN();
            if (i == 0 && edit.resampler_float < part.size()) part[edit.resampler_float] = edit.resampler_value;
            parts.push_back(std::move(part));
        }
        std::vector<F32Tensor> tensors;
        for (std::size_t i = 0; i < parts.size(); ++i) {
            tensors.push_back({"stage." + std::to_string(i), parts[i]});
        }
        return write_safetensors(metadata, tensors);
    };
    const std::string count = std::to_string(pipeline.size());
    write_bytes(dir / "stage_count.stream", snapshot({.stage_count = "2"}));
    write_bytes(dir / "renamed_stage.stream", snapshot({.stage_count = count, .renamed_stage = 1}));
    write_bytes(dir / "short_stage.stream", snapshot({.stage_count = count, .short_stage = 0}));
    write_bytes(dir / "nan_stage.stream", snapshot({.stage_count = count, .nan_stage = 2}));
    // Regressions: the resampler's phase, owed outputs and FIFO length are counts; restoring
    // a negative or huge one was undefined behaviour (a float-to-integer cast) until the stage
    // checked them (Stage::accepts_state).
    write_bytes(dir / "resampler_negative_phase.stream",
                snapshot({.stage_count = count, .resampler_float = 0, .resampler_value = -5.0f}));
    write_bytes(dir / "resampler_huge_owed.stream",
                snapshot({.stage_count = count, .resampler_float = 1, .resampler_value = 1e30f}));
    write_bytes(dir / "resampler_negative_fifo.stream",
                snapshot({.stage_count = count, .resampler_float = 2, .resampler_value = -1e30f}));
    // Patch mode: the running stream as is, then its first floats (the resampler's counts) set
    // to whole numbers and scaled.
    write_patches(dir / "patch_none.bin", {});
    write_patches(dir / "patch_counts.bin", {{0, 0, 1}, {1, 0, 3}, {2, 3, 144}});
    // Found by the patch mode (a 10-minute run): phase 1 where the history says 0, so the replay
    // owes another count than the saved one; accepted, and each restore pushes the difference
    // into the FIFO again.
    write_patches(dir / "patch_phase_mismatch.bin",
                  {{98, 0, 0}, {64000, 0, 0}, {256, 1, 250}, {0, 0, 1}, {256, 1, 252}, {768, 2, 0}});
}

// Per-stream forecast state files of the shipped forecaster, stream "AAPL".
void write_forecast_states(const fs::path& dir) {
    using namespace engine::forecast;
    const models::ModelFile file = models::ModelFile::load(kData / "models" / "forecaster.safetensors");
    const models::SsmModel model(file);
    const models::ForecastSpec& spec = file.description().forecast;
    models::StreamState state = model.make_state();
    TickFeatures features(spec);
    QuantileReadout readout(spec, true);
    std::vector<float> feature_floats(features.state_floats());
    std::vector<float> readout_floats(readout.state_floats());
    const auto encode = [&](std::string_view stream) {
        features.save_state(feature_floats);
        readout.save_state(readout_floats);
        return encode_forecast_state(model, stream, {state.values, feature_floats, readout_floats});
    };
    write_bytes(dir / "fresh.state", encode("AAPL"));

    // Sixty ticks the way the forecaster runs them, so the rings and adaptation hold values.
    models::ModelWorkspace ws(model, 1);
    std::vector<float> y(model.output_dim());
    std::vector<double> anchors(spec.horizon);
    std::vector<float> q(3 * std::size_t{spec.horizon});
    const std::uint32_t season = spec.max_season >= 4 ? 4 : 0;
    for (std::size_t t = 0; t < 60; ++t) {
        const float value = t % 17 == 5 ? NAN : 100.0f + 2.0f * std::sin(0.4f * static_cast<float>(t));
        float x[kTickFeatureCount];
        readout.adapt(value);
        features.step(1'700'000'000'000'000'000 + static_cast<std::int64_t>(t) * 250'000'000, value,
                      season, std::span<float, kTickFeatureCount>(x));
        model.step(state, ws, x, y);
        if (!features.has_last()) {
            readout.skip();
            continue;
        }
        features.anchors(season, anchors);
        const std::size_t h = spec.horizon;
        const std::span<float> qs(q);
        readout.forecast(y, anchors, features.scale(), features.season_usable(season), qs.first(h),
                         qs.subspan(h, h), qs.subspan(2 * h, h));
    }
    const std::vector<std::byte> running = encode("AAPL");
    write_bytes(dir / "running.state", running);
    write_bytes(dir / "truncated.state", first_half(running));
    write_bytes(dir / "other_stream.state", encode("MSFT"));

    const auto edited = [&](const std::string& version, const std::string& fingerprint,
                            std::span<const float> model_part, std::span<const float> feature_part,
                            std::span<const float> readout_part) {
        const std::map<std::string, std::string> metadata = {
            {"statestream_forecast_state", version},
            {"model_fingerprint", fingerprint},
            {"model_name", file.description().recipe.name},
            {"model_source", "forecaster.safetensors"},
            {"stream_id", "AAPL"}};
        const F32Tensor tensors[] = {{"model", model_part}, {"features", feature_part},
                                     {"readout", readout_part}};
        return write_safetensors(metadata, tensors);
    };
    features.save_state(feature_floats);
    readout.save_state(readout_floats);
    write_bytes(dir / "version_2.state",
                edited("2", file.fingerprint(), state.values, feature_floats, readout_floats));
    write_bytes(dir / "other_model.state",
                edited("1", kOtherFingerprint, state.values, feature_floats, readout_floats));
    write_bytes(dir / "readout_short.state",
                edited("1", file.fingerprint(), state.values, feature_floats,
                       std::span<const float>(readout_floats).first(readout_floats.size() - 1)));
    std::vector<float> nan_model = state.values;
    nan_model[0] = NAN;
    write_bytes(dir / "nan_model.state",
                edited("1", file.fingerprint(), nan_model, feature_floats, readout_floats));
    // Every feature float set to 2: flags that are neither 0 nor 1, a ring position past its end.
    const std::vector<float> bad_features(feature_floats.size(), 2.0f);
    write_bytes(dir / "bad_features.state",
                edited("1", file.fingerprint(), state.values, bad_features, readout_floats));
    // Patch mode: the running stream as is, then a few model, feature and readout floats changed.
    write_patches(dir / "patch_none.bin", {});
    write_patches(dir / "patch_values.bin", {{3, 3, 200}, {20, 0, 1}, {250, 2, 2}});
}

// Audio files written by libsndfile, then one broken by hand.
void write_audio(const fs::path& path, int format, int rate_hz, int channels,
                 const std::vector<float>& interleaved, std::size_t cut_bytes = 0) {
    SF_INFO info{};
    info.samplerate = rate_hz;
    info.channels = channels;
    info.format = format;
    SNDFILE* file = sf_open(path.c_str(), SFM_WRITE, &info);
    if (file == nullptr) {
        std::fprintf(stderr, "%s: libsndfile cannot write it (%s); skipped\n", path.c_str(),
                     sf_strerror(nullptr));
        return;
    }
    // Float WAVs get a PEAK chunk stamped with the time of writing; without it the bytes repeat.
    sf_command(file, SFC_SET_ADD_PEAK_CHUNK, nullptr, SF_FALSE);
    sf_writef_float(file, interleaved.data(), static_cast<sf_count_t>(interleaved.size() / channels));
    sf_close(file);
    std::error_code error;
    const std::uintmax_t size = fs::file_size(path, error);
    if (!error && cut_bytes != 0 && cut_bytes < size) fs::resize_file(path, size - cut_bytes);
    std::printf("%6ju  %s\n", static_cast<std::uintmax_t>(fs::file_size(path, error)), path.c_str());
}

std::vector<float> tone(std::size_t frames, int channels) {
    std::vector<float> out(frames * static_cast<std::size_t>(channels));
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = 0.5f * std::sin(0.21f * static_cast<float>(i));
    return out;
}

void write_audio_files(const fs::path& dir) {
    write_audio(dir / "mono_16k_pcm16.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, tone(64, 1));
    write_audio(dir / "stereo_48k_float.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 48000, 2, tone(32, 2));
    write_audio(dir / "mono_16k.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, tone(64, 1));
    write_audio(dir / "mono_8k.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 8000, 1, tone(32, 1));
    write_audio(dir / "mono_22k.au", SF_FORMAT_AU | SF_FORMAT_ULAW, 22050, 1, tone(32, 1));
    write_audio(dir / "mono_16k.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 16000, 1, tone(64, 1));
    write_audio(dir / "eight_channel.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 48000, 8, tone(8, 8));
    write_audio(dir / "one_sample.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, tone(1, 1));
    write_audio(dir / "no_frames.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, {});
    // Header declares 64 frames, the data stops after 32: the reader's truncation check.
    write_audio(dir / "truncated.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, tone(64, 1), 64);
    write_audio(dir / "truncated.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, tone(256, 1), 40);
    std::vector<float> odd = tone(8, 1);
    odd[1] = NAN;
    odd[2] = INFINITY;
    odd[3] = -INFINITY;
    odd[4] = 1e-42f;  // denormal
    write_audio(dir / "nan_inf_denormal.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, odd);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR   (tests/fuzz/corpus)\n", argv[0]);
        return 2;
    }
    const fs::path root = argv[1];
    const auto fresh_dir = [&](const char* name) {
        const fs::path dir = root / name;
        fs::remove_all(dir);
        fs::create_directories(dir);
        return dir;
    };
    write_state_snapshots(fresh_dir("state_snapshot"));
    write_stream_snapshots(fresh_dir("stream_snapshot"));
    write_forecast_states(fresh_dir("forecast_state"));
    write_audio_files(fresh_dir("audio_file"));
    return 0;
}
