// A good tick line allocates nothing once its stream id is known: the source thread parses
// millions of lines a second and the allocator must not be its bottleneck or its jitter.
// Allocator calls on this thread are counted (tests/support/allocation_hooks). Release tree.

#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <variant>

#include "engine/io/tick_parser.hpp"
#include "tests/support/allocation_hooks.hpp"

using namespace statestream::engine::io;
using statestream::test::ArmAllocationHooks;
using statestream::test::armed_allocator_calls;

TEST_CASE("TickParser: good lines of known streams do not allocate", "[engine][ticks][rt]") {
    TickParser parser({{"bid", "ask"}});
    // Every line kind that is not an error, each id seen once before the count starts. Within a
    // stream the timestamps are equal (allowed), so repeating the lines never goes back in time.
    const std::string lines[] = {
        "stream_id,timestamp,value,bid,ask",
        "# a comment",
        "",
        "AAPL,1700000001.000000000012,189.5,189.25,189.75\r",
        "MSFT,1700000000123456789,410,,410.5",
        "AAPL,1700000001s,nan,189.0,190.0",
        " MSFT , 1700000000123456789ns , -3e-4 , 1 , 2 ",
    };
    (void)parser.parse_line("AAPL,0,0,0,0", 1);
    (void)parser.parse_line("MSFT,0,0,0,0", 2);

    const auto before = armed_allocator_calls();
    std::uint64_t ticks = 0;
    {
        const ArmAllocationHooks armed;
        for (std::uint64_t n = 0; n < 1000; ++n) {
            for (const auto& line : lines) {
                const auto parsed = parser.parse_line(line, n);
                ticks += std::holds_alternative<Tick>(parsed) ? 1 : 0;
            }
        }
    }
    INFO("allocator calls while parsing " << ticks << " ticks");
    CHECK(armed_allocator_calls() == before);
    CHECK(ticks == 4000);  // and it did the work

    // The count can fail: a new stream id allocates its name.
    {
        const ArmAllocationHooks armed;
        (void)parser.parse_line("a-new-stream-with-a-long-name-past-sso,1,1,1,1", 1);
    }
    CHECK(armed_allocator_calls() > before);
}
