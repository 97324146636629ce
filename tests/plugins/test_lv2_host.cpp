// The plugin as hosts see it, through lilv in this process (tests/plugins/lv2_test_host): the
// latency port against the impulse delay measured through run(), run() armed with the allocation
// and lock hooks, sanitised input, full band above 48 kHz, failed instantiation, activate() as a
// reset, and the CPU time of run() at 256 frames and 48 kHz. Release tree (label host): the
// plugin module is built without the sanitizers, like every host.

#include <catch2/catch.hpp>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <vector>

#include "tests/plugins/lv2_test_host.hpp"
#include "tests/plugins/plugin_signals.hpp"
#include "tests/support/allocation_hooks.hpp"

using namespace statestream::test;

namespace {

constexpr std::size_t kOddPieces[] = {1, 256, 333, 4096, 7, 480, 1000};

// An impulse after a third of a second of low noise, in every channel; where channel 0 peaks.
std::size_t impulse_delay_through_host(Lv2TestHost& host, double rate) {
    const auto frames = static_cast<std::size_t>(rate);
    std::vector<float> input = white_noise(frames, 1e-4f, 5);
    const std::size_t impulse_at = frames / 3;
    std::fill(input.begin() + static_cast<std::ptrdiff_t>(impulse_at), input.end(), 0.0f);
    input[impulse_at] = 1.0f;
    const auto output = host.process(std::vector<std::vector<float>>(host.audio_inputs(), input), kOddPieces);
    std::size_t peak = impulse_at;
    for (std::size_t i = impulse_at; i < frames; ++i) {
        if (std::abs(output[0][i]) > std::abs(output[0][peak])) peak = i;
    }
    return peak - impulse_at;
}

double thread_cpu_seconds() {
    timespec now{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

}  // namespace

TEST_CASE("lilv finds the mono and the stereo plugin in the build tree's bundle", "[plugins][lv2]") {
    Lv2TestHost mono(kMonoUri, 48000);
    REQUIRE(mono.instantiated());
    CHECK(mono.audio_inputs() == 1);
    CHECK(mono.audio_outputs() == 1);
    CHECK(mono.get("strength") == 1.0f);
    CHECK(mono.get("atten_limit") == 100.0f);
    CHECK(mono.get("enabled") == 1.0f);
    Lv2TestHost stereo(kStereoUri, 48000);
    REQUIRE(stereo.instantiated());
    CHECK(stereo.audio_inputs() == 2);
    CHECK(stereo.audio_outputs() == 2);
}

TEST_CASE("The latency port equals the impulse delay measured through the host, at every rate",
          "[plugins][lv2]") {
    for (const char* uri : {kMonoUri, kStereoUri}) {
        for (const double rate : {44100.0, 48000.0, 88200.0, 96000.0}) {
            CAPTURE(uri, rate);
            Lv2TestHost host(uri, rate);
            REQUIRE(host.instantiated());
            host.activate();
            const std::size_t measured = impulse_delay_through_host(host, rate);
            const auto reported = static_cast<std::size_t>(host.get("latency"));
            std::printf("%s at %.0f Hz: latency port %zu frames (%.2f ms), impulse through run() %zu\n",
                        uri, rate, reported, 1e3 * static_cast<double>(reported) / rate, measured);
            CHECK(reported == measured);
            CHECK(reported > 0);
        }
    }
}

TEST_CASE("run() neither allocates nor locks, for any frame count and while controls move",
          "[plugins][lv2][rt]") {
    for (const char* uri : {kMonoUri, kStereoUri}) {
        for (const double rate : {44100.0, 48000.0, 96000.0}) {
            CAPTURE(uri, rate);
            Lv2TestHost host(uri, rate);
            REQUIRE(host.instantiated());
            host.activate();
            const std::vector<float> noise = white_noise(static_cast<std::size_t>(2 * rate), 0.1f, 7);
            const std::vector<std::vector<float>> input(host.audio_inputs(), noise);
            std::vector<std::vector<float>> output(host.audio_outputs(), std::vector<float>(noise.size()));
            std::vector<const float*> in(input.size());
            std::vector<float*> out(output.size());
            const auto allocations = armed_allocator_calls();
            const auto locks = armed_lock_calls();
            constexpr std::size_t kPieces[] = {1, 0, 7, 256, 479, 480, 481, 4096, 1000};
            std::size_t runs = 0;
            for (std::size_t at = 0; at < noise.size(); ++runs) {
                const std::size_t frames = std::min(kPieces[runs % std::size(kPieces)], noise.size() - at);
                // Every control a user turns, while it runs (the attenuation limit's pow() included).
                host.set("strength", runs % 5 == 0 ? 0.5f : 1.0f);
                host.set("atten_limit", runs % 3 == 0 ? 12.0f : 100.0f);
                host.set("enabled", runs % 7 < 5 ? 1.0f : 0.0f);
                for (std::size_t c = 0; c < in.size(); ++c) in[c] = input[c].data() + at;
                for (std::size_t c = 0; c < out.size(); ++c) out[c] = output[c].data() + at;
                host.run(in, out, static_cast<std::uint32_t>(frames), /*armed=*/true);
                at += frames;
            }
            CHECK(armed_allocator_calls() == allocations);
            CHECK(armed_lock_calls() == locks);
            CHECK(runs > 100);
            CHECK(rms(output[0]) > 0.0);
        }
    }
}

TEST_CASE("NaN and infinite input through the host: sanitised, counted, output stays finite",
          "[plugins][lv2]") {
    std::vector<float> clean = white_noise(48000, 0.1f, 9);
    std::vector<float> faulty = clean;
    for (std::size_t i = 5000; i < 5480; ++i) {
        faulty[i] = std::numeric_limits<float>::quiet_NaN();
        clean[i] = 0.0f;
    }
    faulty[9000] = std::numeric_limits<float>::infinity();
    clean[9000] = 0.0f;
    Lv2TestHost host(kMonoUri, 48000);
    REQUIRE(host.instantiated());
    host.activate();
    const auto output = host.process({faulty}, kOddPieces);
    for (float x : output[0]) REQUIRE(std::isfinite(x));
    CHECK(host.get("sanitised") == 481.0f);
    // What follows is what silence in their place gives: the state was not poisoned.
    Lv2TestHost reference(kMonoUri, 48000);
    REQUIRE(reference.instantiated());
    reference.activate();
    CHECK(reference.process({clean}, kOddPieces) == output);
    // The count starts again with the stream.
    host.deactivate();
    host.activate();
    (void)host.process({white_noise(480, 0.1f, 10)}, kOddPieces);
    CHECK(host.get("sanitised") == 0.0f);
}

TEST_CASE("At 88.2 and 96 kHz content above 24 kHz passes through the plugin", "[plugins][lv2]") {
    for (const double rate : {88200.0, 96000.0}) {
        CAPTURE(rate);
        Lv2TestHost host(kMonoUri, rate);
        REQUIRE(host.instantiated());
        host.activate();
        const auto frames = static_cast<std::size_t>(rate);
        const std::vector<float> ultrasonic = tone(frames, 30000.0, rate, 0.1f);
        const auto output = host.process({ultrasonic}, kOddPieces);
        const auto latency = static_cast<std::size_t>(host.get("latency"));
        const auto settled = std::span<const float>(output[0]).subspan(latency + frames / 4);
        const double level_db = 20.0 * std::log10(rms(settled) / rms(ultrasonic));
        INFO("30 kHz tone: " << level_db << " dB through the plugin");
        CHECK(std::abs(level_db) < 0.2);
    }
}

TEST_CASE("A plugin that cannot start gives the host no instance", "[plugins][lv2]") {
    SECTION("a rate the enhancer does not take") {
        Lv2TestHost host(kMonoUri, 7000);
        CHECK_FALSE(host.instantiated());
    }
    SECTION("a bundle without its model") {
        const auto bundle = std::filesystem::temp_directory_path() /
                            ("statestream-lv2-nomodel-" + std::to_string(::getpid()) + ".lv2");
        std::filesystem::remove_all(bundle);
        std::filesystem::copy(kEnhancerBundle, bundle);
        std::filesystem::remove(bundle / "enhancer.safetensors");
        {
            Lv2TestHost host(kMonoUri, 48000, bundle);
            CHECK_FALSE(host.instantiated());
        }
        std::filesystem::remove_all(bundle);
    }
}

TEST_CASE("activate() starts a fresh stream", "[plugins][lv2]") {
    const std::vector<float> first = white_noise(30000, 0.1f, 11);
    const std::vector<float> second = white_noise(30000, 0.1f, 12);
    Lv2TestHost reused(kStereoUri, 44100);
    REQUIRE(reused.instantiated());
    reused.activate();
    (void)reused.process({first, first}, kOddPieces);
    reused.deactivate();
    reused.activate();
    const auto again = reused.process({second, second}, kOddPieces);
    Lv2TestHost fresh(kStereoUri, 44100);
    REQUIRE(fresh.instantiated());
    fresh.activate();
    const auto expected = fresh.process({second, second}, kOddPieces);
    CHECK(again == expected);
}

TEST_CASE("The CPU-load ports report the load of run() with 256 frames at 48 kHz (figures printed)",
          "[plugins][lv2][cpu]") {
    constexpr std::size_t kFrames = 256;
    constexpr double kRate = 48000.0;
    // 20 s of noise whose level moves (the model's gains keep changing).
    std::vector<float> input = white_noise(20 * 48000, 0.1f, 13);
    for (std::size_t i = 0; i < input.size(); ++i) input[i] *= (i / 24000) % 2 == 0 ? 1.0f : 0.05f;
    const auto summary = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        double sum = 0.0;
        for (double x : v) sum += x;
        struct { double mean, p50, p99, max; } s{sum / static_cast<double>(v.size()), v[v.size() / 2],
                                                 v[v.size() * 99 / 100], v.back()};
        return s;
    };
    for (const char* uri : {kMonoUri, kStereoUri}) {
        Lv2TestHost host(uri, kRate);
        REQUIRE(host.instantiated());
        host.activate();
        const std::size_t channels = host.audio_inputs();
        std::vector<std::vector<float>> output(channels, std::vector<float>(kFrames));
        std::vector<const float*> in(channels);
        std::vector<float*> out(channels);
        for (std::size_t c = 0; c < channels; ++c) out[c] = output[c].data();
        std::vector<double> wall;
        std::vector<double> cpu;
        for (std::size_t at = 0; at + kFrames <= input.size(); at += kFrames) {
            for (std::size_t c = 0; c < channels; ++c) in[c] = input.data() + at;
            const double cpu0 = thread_cpu_seconds();
            const auto wall0 = std::chrono::steady_clock::now();
            host.run(in, out, kFrames);
            wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count());
            cpu.push_back(thread_cpu_seconds() - cpu0);
        }
        const auto w = summary(wall);
        const auto c = summary(cpu);
        const double period_us = 1e6 * kFrames / kRate;
        std::printf("%s: run() of %zu frames at 48 kHz (%.0f us of audio), %zu runs:\n", uri, kFrames,
                    period_us, wall.size());
        std::printf("  wall:       mean %.1f us (%.1f %% of the period), p50 %.1f, p99 %.1f, max %.1f us\n",
                    1e6 * w.mean, 100.0 * 1e6 * w.mean / period_us, 1e6 * w.p50, 1e6 * w.p99, 1e6 * w.max);
        std::printf("  thread CPU: mean %.1f us (%.1f %% of the period), p50 %.1f, p99 %.1f, max %.1f us\n",
                    1e6 * c.mean, 100.0 * 1e6 * c.mean / period_us, 1e6 * c.p50, 1e6 * c.p99, 1e6 * c.max);
        std::printf("  the plugin's own meter: last %.1f %%, peak over the last second %.1f %%\n",
                    host.get("cpu_load"), host.get("cpu_load_peak"));
        CHECK(host.get("cpu_load_peak") > 0.0f);
        CHECK(host.get("cpu_load_peak") >= host.get("cpu_load"));
        // The meter times run() itself: its peak over the last second cannot be below half the
        // mean load measured here from outside (it is usually well above: the hops that step the
        // model cost about twice the mean).
        CHECK(host.get("cpu_load_peak") >= 0.5 * 100.0 * 1e6 * c.mean / period_us);
    }
}
