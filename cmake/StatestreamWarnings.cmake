# One interface target carries the warning flags, so every project target opts in by linking it
# and third-party headers (included as SYSTEM) stay out of the report.
add_library(statestream_warnings INTERFACE)
add_library(statestream::warnings ALIAS statestream_warnings)
target_compile_options(statestream_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor>
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>)
option(STATESTREAM_WERROR "Treat warnings as errors" OFF)
if(STATESTREAM_WERROR)
  target_compile_options(statestream_warnings INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-Werror> $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings>)
endif()
