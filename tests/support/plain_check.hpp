#pragma once
// A minimal check macro for the models-only build, which runs on machines without Catch2:
// it counts failures, prints each with file and line, and the program exits non-zero if any.

#include <cstdio>

namespace statestream::test {
inline int& plain_failures() {
    static int failures = 0;
    return failures;
}
}  // namespace statestream::test

#define SS_CHECK(condition)                                                                 \
    do {                                                                                    \
        if (!(condition)) {                                                                 \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
            ++::statestream::test::plain_failures();                                       \
        }                                                                                   \
    } while (false)
