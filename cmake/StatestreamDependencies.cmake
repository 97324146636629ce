# Every dependency is a Debian package found here (scripts/setup.sh installs them); none is
# vendored. The models-only build needs only nlohmann-json, because the GPU machine it is meant
# for has none of the audio libraries.
find_package(nlohmann_json 3.10 QUIET)
if(NOT nlohmann_json_FOUND)
  # Machines without the Debian package (the GPU machine) may point at a copy of its headers.
  find_path(STATESTREAM_JSON_INCLUDE_DIR nlohmann/json.hpp
            HINTS "${CMAKE_CURRENT_SOURCE_DIR}/.deps/include")
  if(NOT STATESTREAM_JSON_INCLUDE_DIR)
    message(FATAL_ERROR "nlohmann-json not found: run scripts/setup.sh (Debian package "
                        "nlohmann-json3-dev) or pass -DSTATESTREAM_JSON_INCLUDE_DIR=<dir>.")
  endif()
  add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
  target_include_directories(nlohmann_json::nlohmann_json SYSTEM INTERFACE
                             "${STATESTREAM_JSON_INCLUDE_DIR}")
endif()

if(NOT STATESTREAM_MODELS_ONLY)
  find_package(Threads REQUIRED)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(PortAudio REQUIRED IMPORTED_TARGET portaudio-2.0)
  pkg_check_modules(SndFile REQUIRED IMPORTED_TARGET sndfile)
  pkg_check_modules(FFTW3F REQUIRED IMPORTED_TARGET fftw3f)
  pkg_check_modules(SampleRate REQUIRED IMPORTED_TARGET samplerate)
  pkg_check_modules(Jack REQUIRED IMPORTED_TARGET jack)
  # The enhancer's baseline in `statestream bench enhance` (speexdsp's denoiser). Optional: a
  # build without it benchmarks the model alone and says so.
  pkg_check_modules(SpeexDsp QUIET IMPORTED_TARGET speexdsp)
  find_package(TBB REQUIRED)
  find_package(CLI11 REQUIRED)
  find_package(fmt REQUIRED)
  find_package(Catch2 2 REQUIRED)
endif()
