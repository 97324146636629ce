// The SPSC ring: capacity edges, wrap-around, bulk reads and writes, and two real threads
// passing ten million items whose order and sum must survive.

#include <catch2/catch.hpp>

#include <cstdint>
#include <thread>
#include <vector>

#include "engine/spsc_ring.hpp"

using statestream::engine::SpscRing;
using Catch::Matchers::Contains;

TEST_CASE("Ring capacity must be a power of two", "[engine][ring]") {
    REQUIRE_THROWS_WITH(SpscRing<int>(6), Contains("capacity 6 is not a power of two"));
    REQUIRE_THROWS_WITH(SpscRing<int>(1), Contains("capacity 1"));
    REQUIRE(SpscRing<int>(8).capacity() == 8);
}

TEST_CASE("Ring holds exactly its capacity, in order, across wrap-around", "[engine][ring]") {
    SpscRing<int> ring(4);
    int value = 0;
    for (int round = 0; round < 5; ++round) {  // wraps the indices several times
        for (int i = 0; i < 4; ++i) REQUIRE(ring.try_push(round * 10 + i));
        REQUIRE_FALSE(ring.try_push(99));  // full
        REQUIRE(ring.writable() == 0);
        REQUIRE(ring.readable() == 4);
        for (int i = 0; i < 4; ++i) {
            REQUIRE(ring.try_pop(value));
            REQUIRE(value == round * 10 + i);
        }
        REQUIRE_FALSE(ring.try_pop(value));  // empty
    }
}

TEST_CASE("Bulk write and read move as many items as fit", "[engine][ring]") {
    SpscRing<float> ring(8);
    const std::vector<float> ten{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    REQUIRE(ring.write(ten) == 8);
    std::vector<float> out(3);
    REQUIRE(ring.read(out) == 3);
    CHECK(out == std::vector<float>{0, 1, 2});
    REQUIRE(ring.write(std::span<const float>(ten).subspan(8)) == 2);
    std::vector<float> rest(10);
    REQUIRE(ring.read(rest) == 7);
    CHECK(std::vector<float>(rest.begin(), rest.begin() + 7) == std::vector<float>{3, 4, 5, 6, 7, 8, 9});
}

TEST_CASE("Two threads pass ten million items in order", "[engine][ring]") {
    constexpr std::uint64_t kItems = 10'000'000;
    SpscRing<std::uint64_t> ring(1024);
    std::thread producer([&] {
        std::uint64_t next = 0;
        std::uint64_t batch[7];
        while (next < kItems) {
            std::size_t n = 0;
            while (n < 7 && next + n < kItems) {
                batch[n] = next + n;
                ++n;
            }
            next += ring.write({batch, n});  // partial writes resume from the first unsent
        }
    });
    std::uint64_t expected = 0;
    std::uint64_t out_of_order = 0;
    std::uint64_t buffer[64];
    while (expected < kItems) {
        const std::size_t n = ring.read(buffer);
        for (std::size_t i = 0; i < n; ++i) {
            if (buffer[i] != expected) ++out_of_order;
            ++expected;
        }
    }
    producer.join();
    CHECK(out_of_order == 0);
    CHECK(expected == kItems);
}
