# cmake -DSOURCE_DIR=<repo> -DWORK_DIR=… -P dpkg_install_test.cmake
# The Debian packages that package_test.cmake built (WORK_DIR/build/*.deb),
# installed on this machine the way a user installs them, then removed:
#   - dpkg -i of the three packages;
#   - `man zenml-upload` shows the page (man-db's search, not a path);
#   - /usr/bin/zenml-analytics --version runs and names its version;
#   - tests/consumer/consumer_test.cmake against the system install (/usr):
#     find_package and pkg-config find it with no hint;
#   - dpkg --purge of the three, then no file they installed is left and
#     dpkg knows none of them.
# Only as root (it changes the machine's package database): otherwise it
# prints "SKIPPED: ..." and ctest reports the test as skipped. Removal runs
# whatever failed before it; a run killed midway leaves a marker, and the
# next run purges what that one installed before it starts. Packages of
# these names installed by anyone else are never touched: the test fails.
cmake_minimum_required(VERSION 3.25)

execute_process(COMMAND id -u OUTPUT_VARIABLE uid OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT uid STREQUAL "0")
  message("SKIPPED: not root (uid ${uid}): dpkg -i would change this machine's "
    "package database; the packages are checked unpacked by "
    "DebianPackagesInstallAndServeAConsumer")
  return()
endif()

set(packages libzenml-analytics0 zenml-analytics zenml-analytics-dev)
set(marker ${WORK_DIR}/dpkg-installed-by-test)

function(installed package out)
  execute_process(COMMAND dpkg-query -W -f=\${Status} ${package}
    RESULT_VARIABLE rc OUTPUT_VARIABLE status ERROR_QUIET)
  if(rc EQUAL 0 AND NOT status MATCHES "not-installed|config-files")
    set(${out} TRUE PARENT_SCOPE)
  else()
    set(${out} FALSE PARENT_SCOPE)
  endif()
endfunction()

function(purge)
  # Reverse dependency order; --purge also drops conffiles and the status.
  execute_process(COMMAND dpkg --purge zenml-analytics-dev zenml-analytics
    libzenml-analytics0 RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(purge_rc ${rc} PARENT_SCOPE)
  set(purge_log "${out}${err}" PARENT_SCOPE)
endfunction()

if(EXISTS ${marker})
  message(STATUS "an earlier run was interrupted: purging what it installed")
  purge()
  file(REMOVE ${marker})
endif()
foreach(p ${packages})
  installed(${p} is)
  if(is)
    message(FATAL_ERROR "${p} is installed on this machine, not by this test: "
      "it is not replaced or removed; remove it (dpkg --purge ${p}) to run this test")
  endif()
endforeach()

set(debs "")
foreach(p ${packages})
  file(GLOB deb ${WORK_DIR}/build/${p}_*.deb)
  list(LENGTH deb n)
  if(NOT n EQUAL 1)
    message(FATAL_ERROR "expected one ${p}_*.deb in ${WORK_DIR}/build "
      "(built by DebianPackagesInstallAndServeAConsumer), found '${deb}'")
  endif()
  list(APPEND debs ${deb})
endforeach()

# From here on every check records its failure and carries on, so the
# packages are removed whatever happened.
set(failures "")
function(check what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
    ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    set(failures "${failures}\n${what}: failed (${rc}): ${ARGN}\n${out}\n${err}"
      PARENT_SCOPE)
  endif()
  set(check_out "${out}" PARENT_SCOPE)
  set(check_rc ${rc} PARENT_SCOPE)
endfunction()
function(expect text regex what)
  if(NOT text MATCHES "${regex}")
    set(failures "${failures}\n${what}: no match for '${regex}' in:\n${text}"
      PARENT_SCOPE)
  endif()
endfunction()

file(WRITE ${marker} "${debs}\n")
check("dpkg -i" dpkg -i ${debs})
set(installed_files "")
if(check_rc EQUAL 0)
  foreach(p ${packages})
    check("dpkg -L ${p}" dpkg -L ${p})
    string(REPLACE "\n" ";" listed "${check_out}")
    foreach(f ${listed})
      # Directories like /usr/bin are shared; every file and link is ours.
      if(f MATCHES "^/" AND (IS_SYMLINK ${f} OR NOT IS_DIRECTORY ${f}))
        list(APPEND installed_files ${f})
      endif()
    endforeach()
  endforeach()
  list(LENGTH installed_files n_files)
  if(n_files LESS 10)
    set(failures "${failures}\ndpkg -L lists only ${n_files} files: ${installed_files}")
  endif()

  set(ENV{MANWIDTH} 80)
  check("man zenml-upload" man zenml-upload)
  expect("${check_out}" "\nNAME\n +zenml-upload " "man zenml-upload")

  check("zenml-analytics --version" /usr/bin/zenml-analytics --version)
  expect("${check_out}" "^zenml-analytics [0-9]+\\.[0-9]+\\.[0-9]+" "zenml-analytics --version")

  check("consumer against /usr" ${CMAKE_COMMAND}
    -DSOURCE_DIR=${SOURCE_DIR}/tests/consumer -DWORK_DIR=${WORK_DIR}/system-consumer
    -DPREFIX=/usr -DSYSTEM_INSTALL=ON
    -P ${SOURCE_DIR}/tests/consumer/consumer_test.cmake)
  message(STATUS "consumer against the system install:\n${check_out}")
endif()

# --- Removal, whatever happened above -------------------------------------------
purge()
if(NOT purge_rc EQUAL 0)
  set(failures "${failures}\ndpkg --purge failed (${purge_rc}):\n${purge_log}")
else()
  file(REMOVE ${marker})
endif()
foreach(p ${packages})
  installed(${p} is)
  execute_process(COMMAND dpkg-query -W ${p} RESULT_VARIABLE known
    OUTPUT_QUIET ERROR_QUIET)
  if(is OR known EQUAL 0)
    set(failures "${failures}\n${p} is still known to dpkg after --purge")
  endif()
endforeach()
set(left "")
foreach(f ${installed_files})
  if(EXISTS ${f} OR IS_SYMLINK ${f})
    list(APPEND left ${f})
  endif()
endforeach()
if(left)
  set(failures "${failures}\nleft after dpkg --purge: ${left}")
endif()
file(REMOVE_RECURSE ${WORK_DIR}/system-consumer)

if(failures)
  message(FATAL_ERROR "${failures}")
endif()
list(LENGTH installed_files n_files)
message(STATUS "dpkg -i, man, --version and a consumer against /usr passed; "
  "dpkg --purge left none of the ${n_files} files")
