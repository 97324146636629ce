# The commit is recorded at configure time so `statestream --version` and exported models can
# name the source they came from.
set(STATESTREAM_GIT_COMMIT "unknown")
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND "${GIT_EXECUTABLE}" rev-parse --short=12 HEAD
                  WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}"
                  OUTPUT_VARIABLE _commit OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE _commit_rc ERROR_QUIET)
  if(_commit_rc EQUAL 0 AND _commit)
    set(STATESTREAM_GIT_COMMIT "${_commit}")
  endif()
endif()
