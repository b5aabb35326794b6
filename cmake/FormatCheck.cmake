# cmake -DSOURCE_DIR=... -P FormatCheck.cmake: fails if any first-party C++ file
# is not formatted with the repository's .clang-format.
find_program(CLANG_FORMAT NAMES clang-format clang-format-14 REQUIRED)
file(GLOB_RECURSE _files
  ${SOURCE_DIR}/core/*.h ${SOURCE_DIR}/core/*.cc
  ${SOURCE_DIR}/include/*.h
  ${SOURCE_DIR}/client/*.h ${SOURCE_DIR}/client/*.cc
  ${SOURCE_DIR}/spool/*.h ${SOURCE_DIR}/spool/*.cc
  ${SOURCE_DIR}/uploader/*.h ${SOURCE_DIR}/uploader/*.cc
  ${SOURCE_DIR}/tools/*.h ${SOURCE_DIR}/tools/*.cc
  ${SOURCE_DIR}/tests/*.h ${SOURCE_DIR}/tests/*.cc
  ${SOURCE_DIR}/bench/*.h ${SOURCE_DIR}/bench/*.cc
  ${SOURCE_DIR}/fuzz/*.cc ${SOURCE_DIR}/python/src/*.cc)
execute_process(COMMAND ${CLANG_FORMAT} --dry-run -Werror ${_files} RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "clang-format: files above need formatting (run clang-format -i)")
endif()
