# cmake -DSOURCE_DIR=tests/consumer -DWORK_DIR=… (-DBUILD_DIR=… | -DPREFIX=…)
#   [-DSANITIZE=…] -P consumer_test.cmake
# The installed package as a user meets it. With BUILD_DIR, first installs
# that build tree's lib, runtime and dev components to WORK_DIR/prefix; with PREFIX, uses a tree installed
# already (the unpacked .deb's usr/, tests/package; with -DSYSTEM_INSTALL=ON,
# /usr after dpkg -i, where only zenml's own headers and archives are judged).
# Then:
#   - the installed surface is the public API only: headers under
#     include/zenml/, the shared library with its SONAME link, no static
#     archive, nothing pointing back into a build tree, a .pc without -std
#     and without curl/OpenSSL, only zenml::analytics symbols exported;
#   - project/ is built with find_package(ZenmlAnalytics) as C++17, and
#     main.cc once more with pkg-config; each tracks into a temporary config
#     dir (opted in, no auto upload) and flushes; neither links curl or
#     OpenSSL, even indirectly (ldd);
#   - the installed zenml-spool-dump --json shows every event they tracked.
# Fails (FATAL_ERROR) at the first step that does not hold.
cmake_minimum_required(VERSION 3.25)
file(REMOVE_RECURSE ${WORK_DIR})
file(MAKE_DIRECTORY ${WORK_DIR})

function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
    ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(step_out "${out}" PARENT_SCOPE)
endfunction()

if(BUILD_DIR)
  set(PREFIX ${WORK_DIR}/prefix)
  # The packages' components only (cmake/ZenmlInstall.cmake): another
  # component (e.g. a Python module bound for the interpreter's absolute
  # site-packages) must not be installed onto this machine by a test.
  foreach(component lib runtime dev)
    step(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX}
      --component ${component})
  endforeach()
  file(GLOB_RECURSE cmake_files ${PREFIX}/*.cmake ${PREFIX}/*.pc)
  foreach(f ${cmake_files})
    file(READ ${f} text)
    string(FIND "${text}" "${BUILD_DIR}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "${f} refers to the build tree ${BUILD_DIR}")
    endif()
  endforeach()
endif()

# --- The installed surface -------------------------------------------------
foreach(f share/man/man1/zenml-upload.1.gz share/man/man1/zenml-spool-dump.1.gz
          share/man/man1/zenml-analytics.1.gz lib/systemd/user/zenml-upload.service
          lib/systemd/user/zenml-upload.timer share/doc/zenml-analytics/copyright
          bin/zenml-upload bin/zenml-spool-dump bin/zenml-analytics)
  if(NOT EXISTS ${PREFIX}/${f})
    message(FATAL_ERROR "${f} is not installed in ${PREFIX}")
  endif()
endforeach()
if(SYSTEM_INSTALL)
  # /usr holds every other package's headers too: only ours are judged.
  file(GLOB_RECURSE headers RELATIVE ${PREFIX}/include ${PREFIX}/include/zenml/*)
else()
  file(GLOB_RECURSE headers RELATIVE ${PREFIX}/include ${PREFIX}/include/*)
endif()
if(NOT "zenml/analytics/client.h" IN_LIST headers)
  message(FATAL_ERROR "no include/zenml/analytics/client.h in ${PREFIX}")
endif()
foreach(h ${headers})
  if(NOT h MATCHES "^zenml/analytics/[a-z_]+\\.h$" AND NOT h STREQUAL "zenml/analytics.h")
    message(FATAL_ERROR "an internal header is installed: include/${h}")
  endif()
endforeach()
if(SYSTEM_INSTALL)
  file(GLOB archives ${PREFIX}/lib/libzenml* ${PREFIX}/lib/*/libzenml*.a)
  list(FILTER archives INCLUDE REGEX "\\.a$")
else()
  file(GLOB_RECURSE archives ${PREFIX}/*.a)
endif()
if(archives)
  message(FATAL_ERROR "static archives are installed: ${archives}")
endif()
file(GLOB sonames ${PREFIX}/lib/libzenml-analytics.so.[0-9]
  ${PREFIX}/lib/*/libzenml-analytics.so.[0-9])
file(GLOB devlinks ${PREFIX}/lib/libzenml-analytics.so
  ${PREFIX}/lib/*/libzenml-analytics.so)
if(NOT sonames OR NOT devlinks OR NOT IS_SYMLINK "${sonames}" OR NOT IS_SYMLINK "${devlinks}")
  message(FATAL_ERROR "no libzenml-analytics.so.<major> and .so symlinks in ${PREFIX}: '${sonames}' '${devlinks}'")
endif()
get_filename_component(libdir ${sonames} DIRECTORY)

find_program(NM nm)
find_program(CXXFILT c++filt)
if(NM AND CXXFILT)
  step(${NM} -D --defined-only ${sonames})
  file(WRITE ${WORK_DIR}/symbols.txt "${step_out}")
  step(${CXXFILT} INPUT_FILE ${WORK_DIR}/symbols.txt)
  string(REPLACE "\n" ";" symbols "${step_out}")
  set(exported 0)
  foreach(line ${symbols})
    string(REGEX REPLACE "^[0-9a-f]* *[A-Za-z] " "" name "${line}")
    if(name STREQUAL "" OR name STREQUAL "ZENML_ANALYTICS_0")
      continue()
    endif()
    if(NOT name MATCHES "^zenml::analytics::" AND NOT name MATCHES "^zenml_analytics_")
      message(FATAL_ERROR "libzenml-analytics exports a symbol outside the public API: ${name}")
    endif()
    math(EXPR exported "${exported} + 1")
  endforeach()
  if(exported LESS 10)
    message(FATAL_ERROR "libzenml-analytics exports ${exported} public symbols:\n${symbols}")
  endif()
  message(STATUS "libzenml-analytics exports ${exported} symbols, all public API")
endif()

# Nothing of what tracking needs may bring curl or OpenSSL in.
find_program(LDD ldd)
function(no_network_libs binary)
  if(LDD)
    execute_process(COMMAND ${LDD} ${binary} OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(out MATCHES "libcurl|libssl|libcrypto|libnghttp|not found")
      message(FATAL_ERROR "${binary} loads network or missing libraries:\n${out}")
    endif()
  endif()
endfunction()
no_network_libs(${sonames})

# --- A consumer, tracking into a temporary config dir ------------------------
set(config ${WORK_DIR}/config)
set(ENV{ZENML_CONFIG_PATH} ${config})
set(ENV{ZENML_ANALYTICS_OPT_IN} true)
set(ENV{ZENML_ANALYTICS_AUTO_UPLOAD} 0)
unset(ENV{DO_NOT_TRACK})

set(flags "")
if(SANITIZE)
  set(flags -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${SANITIZE})
endif()
step(${CMAKE_COMMAND} -S ${SOURCE_DIR}/project -B ${WORK_DIR}/build
  -DCMAKE_PREFIX_PATH=${PREFIX} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DCMAKE_BUILD_TYPE=Release ${flags})
step(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
no_network_libs(${WORK_DIR}/build/consumer)
step(${WORK_DIR}/build/consumer)
string(STRIP "${step_out}" cmake_id)
if(NOT cmake_id MATCHES "^[0-9a-f]+-[0-9a-f]+-4[0-9a-f]+-[0-9a-f]+-[0-9a-f]+$")
  message(FATAL_ERROR "unexpected consumer output: '${step_out}'")
endif()
step(${WORK_DIR}/build/consumer_minimal)
set(ids ${cmake_id})
set(expected_events 2)

# pkg-config, where available: C++17, no -std from the .pc.
find_program(PKG_CONFIG pkg-config)
find_program(CXX NAMES c++ g++)
if(PKG_CONFIG AND CXX)
  set(ENV{PKG_CONFIG_PATH} "${libdir}/pkgconfig")
  step(${PKG_CONFIG} --cflags --libs zenml-analytics)
  string(STRIP "${step_out}" pc_flags)
  if(pc_flags MATCHES "-std=|curl|ssl|crypto")
    message(FATAL_ERROR "zenml-analytics.pc forces a standard or network libraries: ${pc_flags}")
  endif()
  separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
  set(san "")
  if(SANITIZE)
    set(san -fsanitize=${SANITIZE})
  endif()
  step(${CXX} -std=c++17 ${SOURCE_DIR}/project/main.cc -o ${WORK_DIR}/consumer-pc
    ${pc_flags} -Wl,-rpath,${libdir} ${san})
  no_network_libs(${WORK_DIR}/consumer-pc)
  step(${WORK_DIR}/consumer-pc)
  string(STRIP "${step_out}" pc_id)
  list(APPEND ids ${pc_id})
  math(EXPR expected_events "${expected_events} + 1")
endif()

# The C API from a C11 program, through pkg-config too.
find_program(CC NAMES cc gcc)
if(PKG_CONFIG AND CC AND EXISTS ${PREFIX}/include/zenml/analytics.h)
  step(${CC} -std=c11 -Wall -Wextra -Werror ${SOURCE_DIR}/project/consumer.c
    -o ${WORK_DIR}/consumer-c ${pc_flags} -Wl,-rpath,${libdir} ${san})
  no_network_libs(${WORK_DIR}/consumer-c)
  step(${WORK_DIR}/consumer-c)
  math(EXPR expected_events "${expected_events} + 1")
endif()

# --- The installed zenml-spool-dump sees every event -------------------------
step(${PREFIX}/bin/zenml-spool-dump --json)
set(dump "${step_out}")
foreach(id ${ids})
  string(FIND "${dump}" "\"messageId\":\"${id}\"" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "zenml-spool-dump --json does not show ${id}:\n${dump}")
  endif()
endforeach()
string(REGEX MATCHALL "\"event\":\"Pipeline run\"" runs "${dump}")
list(LENGTH runs n)
if(NOT n EQUAL expected_events)
  message(FATAL_ERROR "expected ${expected_events} Pipeline run events, zenml-spool-dump shows ${n}:\n${dump}")
endif()
message(STATUS "installed zenml-spool-dump shows the consumers' ${n} events")
