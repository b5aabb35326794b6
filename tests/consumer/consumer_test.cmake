# cmake -DBUILD_DIR=… -DSOURCE_DIR=… -DWORK_DIR=… [-DSANITIZE=…]
#   -P consumer_test.cmake
# Installs the build tree to WORK_DIR/prefix, then configures, builds and runs
# the consumer project against it (CMake package), and compiles it once more
# with pkg-config. Fails on any step.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
    ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(step_out "${out}" PARENT_SCOPE)
endfunction()

step(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})

# The installed tree must be self-contained: nothing may point back into the
# source or build tree.
file(GLOB_RECURSE cmake_files ${prefix}/*.cmake ${prefix}/*.pc)
foreach(f ${cmake_files})
  file(READ ${f} text)
  string(FIND "${text}" "${BUILD_DIR}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "${f} refers to the build tree ${BUILD_DIR}")
  endif()
endforeach()

# Every installed library comes with its headers.
foreach(pair "core:core/status.h" "client:client" "spool:spool/spool.h"
             "uploader:uploader")
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 lib)
  list(GET pair 1 header)
  file(GLOB installed ${prefix}/lib*/libzenml_${lib}.* ${prefix}/lib/*/libzenml_${lib}.*)
  if(installed AND NOT EXISTS ${prefix}/include/zenml_analytics/${header})
    message(FATAL_ERROR "libzenml_${lib} is installed without ${header}")
  endif()
endforeach()

set(flags "")
if(SANITIZE)
  set(flags -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SANITIZE})
endif()
step(${CMAKE_COMMAND} -S ${SOURCE_DIR}/project -B ${WORK_DIR}/build
  -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release ${flags})
step(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
step(${WORK_DIR}/build/consumer)
if(NOT step_out MATCHES "^Pipeline run [0-9a-f]+-[0-9a-f]+-4[0-9a-f]+-[0-9a-f]+-[0-9a-f]+\n$")
  message(FATAL_ERROR "unexpected consumer output: '${step_out}'")
endif()
message(STATUS "CMake package consumer printed: ${step_out}")
step(${WORK_DIR}/build/consumer_all)

# pkg-config, where available.
find_program(PKG_CONFIG pkg-config)
find_program(CXX NAMES c++ g++)
if(PKG_CONFIG AND CXX)
  set(ENV{PKG_CONFIG_PATH} "${prefix}/lib/pkgconfig")
  file(GLOB pc_dirs ${prefix}/lib*/pkgconfig ${prefix}/lib/*/pkgconfig)
  string(REPLACE ";" ":" pc_path "${pc_dirs}")
  set(ENV{PKG_CONFIG_PATH} "${pc_path}")
  step(${PKG_CONFIG} --cflags --libs zenml-analytics)
  string(STRIP "${step_out}" pc_flags)
  separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
  set(san "")
  if(SANITIZE)
    set(san -fsanitize=${SANITIZE})
  endif()
  step(${CXX} ${SOURCE_DIR}/project/main.cc -o ${WORK_DIR}/consumer-pc
    ${pc_flags} ${san})
  step(${WORK_DIR}/consumer-pc)
  message(STATUS "pkg-config consumer printed: ${step_out}")
endif()
