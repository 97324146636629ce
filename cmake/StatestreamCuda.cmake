# CUDA is built whenever nvcc is found. Under CI (CI=true) a missing nvcc is an error, not a
# silent skip: the CI machine has the toolkit, and CUDA code must keep compiling there.
# Only sm_90 (Hopper, the GPUs we measure on) is built, to keep compile time down; pass
# -DCMAKE_CUDA_ARCHITECTURES=... for other GPUs.
set(STATESTREAM_HAVE_CUDA OFF)
if(NOT STATESTREAM_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
    # The toolkit's default install prefix is often not on PATH in non-login shells.
    find_program(_statestream_nvcc nvcc HINTS /usr/local/cuda/bin)
    if(_statestream_nvcc)
      set(CMAKE_CUDA_COMPILER "${_statestream_nvcc}" CACHE FILEPATH "CUDA compiler")
    endif()
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)  # CMake 3.25 does not know nvcc 13 accepts C++20
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    if(NOT TARGET CUDA::cublas)
      # The large-batch projections go through cuBLAS (docs/cuda.md); it ships with the toolkit.
      message(FATAL_ERROR
        "CUDA Toolkit found (${CUDAToolkit_LIBRARY_DIR}) but without cuBLAS, which the CUDA "
        "backend links. Install the toolkit's cuBLAS (libcublas), or configure with "
        "-DSTATESTREAM_CUDA=OFF.")
    endif()
    set(STATESTREAM_HAVE_CUDA ON)
  elseif(STATESTREAM_CUDA STREQUAL "ON" OR "$ENV{CI}" STREQUAL "true")
    message(FATAL_ERROR
      "nvcc (the CUDA compiler) was not found, and this build requires it "
      "(STATESTREAM_CUDA=${STATESTREAM_CUDA}, CI=$ENV{CI}). Install the CUDA Toolkit and put "
      "its bin/ on PATH or set CUDACXX, or configure with -DSTATESTREAM_CUDA=OFF.")
  else()
    message(STATUS "nvcc not found: building without the CUDA backend "
                   "(set CUDACXX or -DSTATESTREAM_CUDA=ON to require it)")
  endif()
endif()
