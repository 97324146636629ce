// The one translation unit that builds Catch2's runner; every test program links it, so the
// heavy header is compiled once per tree.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
