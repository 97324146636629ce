# The sanitizer tree instruments everything it compiles (our code, not the system libraries).
# Host tests (JACK, LV2 hosts, allocation hooks) need the release tree: the sanitizer runtime
# replaces the allocator and cannot be loaded into an uninstrumented host process.
if(STATESTREAM_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined)
endif()
if(STATESTREAM_FUZZ AND NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "STATESTREAM_FUZZ needs clang (libFuzzer); configure with "
                      "-DCMAKE_CXX_COMPILER=clang++-14 or use the 'asan' preset.")
endif()
if(STATESTREAM_FUZZ)
  # Coverage feedback from the code under test, not only from the fuzz target's own file:
  # without it libFuzzer mutates blind past the first call into the library.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
