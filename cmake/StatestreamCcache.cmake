# ccache turns a rebuild of an unchanged tree into cache hits: CI's warm budget depends on it.
find_program(STATESTREAM_CCACHE ccache)
if(STATESTREAM_CCACHE)
  foreach(lang C CXX CUDA)
    if(NOT DEFINED CMAKE_${lang}_COMPILER_LAUNCHER)
      set(CMAKE_${lang}_COMPILER_LAUNCHER "${STATESTREAM_CCACHE}")
    endif()
  endforeach()
endif()
