# cmake -DSOURCE_DIR=<repo> -DWORK_DIR=… [-DLAUNCHER=ccache] [-DJOBS=2]
#   -P package_test.cmake
# Builds the Debian packages the way a release is built (Release, tests off,
# prefix /usr; the `package` preset), then checks them as a distribution
# would:
#   - dpkg-deb -c: the tools, man pages, systemd user units, the library with
#     its SONAME link, headers, CMake package, .pc and a copyright file in
#     each package; no static archive;
#   - control: the library package has a shlibs file and does not depend on
#     curl or OpenSSL; -dev depends on exactly this version of it;
#   - dpkg-deb -x into a temporary root: every ELF file is stripped and
#     carries no test hook (no string like ZENML_..._TEST_...), the library's
#     SONAME is libzenml-analytics.so.<major>, the units run /usr/bin's
#     zenml-upload, each man page is troff and each tool's --help points at
#     it;
#   - tests/consumer/consumer_test.cmake on that root: a C++17 consumer built
#     with find_package and with pkg-config tracks and flushes, and the
#     packaged zenml-spool-dump --json shows its events.
# The packages are not installed here: dpkg_install_test.cmake (the next
# test, root only) installs them with dpkg -i and purges them again.
cmake_minimum_required(VERSION 3.25)
if(NOT JOBS)
  set(JOBS 2)
endif()

function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
    ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  set(step_out "${out}" PARENT_SCOPE)
endfunction()

function(require text regex what)
  if(NOT text MATCHES "${regex}")
    message(FATAL_ERROR "${what}: no match for '${regex}' in:\n${text}")
  endif()
endfunction()

# --- Build the packages ------------------------------------------------------
set(build ${WORK_DIR}/build)
file(REMOVE_RECURSE ${WORK_DIR}/root ${WORK_DIR}/consumer)
file(GLOB old_debs ${build}/*.deb)
if(old_debs)
  file(REMOVE ${old_debs})
endif()
set(launcher "")
if(LAUNCHER)
  set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${LAUNCHER})
endif()
step(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${build} -DCMAKE_BUILD_TYPE=Release
  -DZENML_BUILD_TESTS=OFF -DZENML_WERROR=ON -DCMAKE_INSTALL_PREFIX=/usr ${launcher})
step(${CMAKE_COMMAND} --build ${build} -j${JOBS})
get_filename_component(cmake_bin_dir ${CMAKE_COMMAND} DIRECTORY)
find_program(CPACK cpack HINTS ${cmake_bin_dir} REQUIRED)
execute_process(COMMAND ${CPACK} -G DEB WORKING_DIRECTORY ${build}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cpack failed:\n${out}\n${err}")
endif()

set(packages libzenml-analytics0 zenml-analytics zenml-analytics-dev)
foreach(p ${packages})
  file(GLOB deb ${build}/${p}_*.deb)
  list(LENGTH deb n)
  if(NOT n EQUAL 1)
    message(FATAL_ERROR "expected one ${p}_*.deb in ${build}, found '${deb}'")
  endif()
  set(deb_${p} ${deb})
endforeach()

# --- Contents (dpkg-deb -c) and control fields -------------------------------
foreach(p ${packages})
  step(dpkg-deb -c ${deb_${p}})
  set(contents_${p} "${step_out}")
  require("${step_out}" "\\./usr/share/doc/${p}/copyright\n" "${p}: copyright")
  if(step_out MATCHES "\\.a\n")
    message(FATAL_ERROR "${p} ships a static archive:\n${step_out}")
  endif()
endforeach()
set(c "${contents_zenml-analytics}")
foreach(tool zenml-analytics zenml-upload zenml-spool-dump)
  require("${c}" "\\./usr/bin/${tool}\n" "zenml-analytics: ${tool}")
  require("${c}" "\\./usr/share/man/man1/${tool}\\.1\\.gz\n" "zenml-analytics: man page")
endforeach()
foreach(unit zenml-upload.service zenml-upload.timer)
  require("${c}" "\\./usr/lib/systemd/user/${unit}\n" "zenml-analytics: unit")
endforeach()
foreach(unit zenml-upload@.service zenml-upload@.timer)
  require("${c}" "\\./usr/lib/systemd/system/${unit}\n" "zenml-analytics: system unit")
endforeach()
# The manual's try-it-locally example runs against it.
require("${c}" "\\./usr/bin/zenml-test-collector\n" "zenml-analytics: collector")
set(c "${contents_libzenml-analytics0}")
require("${c}" "\\./usr/lib/[a-z0-9_-]+/libzenml-analytics\\.so\\.0 -> libzenml-analytics\\.so\\.0\\.[0-9.]+\n"
  "libzenml-analytics0: SONAME link")
set(c "${contents_zenml-analytics-dev}")
require("${c}" "\\./usr/include/zenml/analytics/client\\.h\n" "dev: headers")
require("${c}" "\\./usr/lib/[a-z0-9_-]+/libzenml-analytics\\.so -> libzenml-analytics\\.so\\.0\n" "dev: .so link")
require("${c}" "/cmake/ZenmlAnalytics/ZenmlAnalyticsConfig\\.cmake\n" "dev: CMake package")
require("${c}" "/pkgconfig/zenml-analytics\\.pc\n" "dev: .pc")

step(dpkg-deb -f ${deb_libzenml-analytics0} Depends)
if(step_out MATCHES "curl|ssl")
  message(FATAL_ERROR "libzenml-analytics0 depends on curl or OpenSSL: ${step_out}")
endif()
step(dpkg-deb -I ${deb_libzenml-analytics0})
require("${step_out}" " shlibs *\n" "libzenml-analytics0: shlibs control file")
step(dpkg-deb -f ${deb_zenml-analytics-dev} Depends)
require("${step_out}" "libzenml-analytics0 \\(= " "dev: Depends")

# --- Unpacked --------------------------------------------------------------------
set(root ${WORK_DIR}/root)
foreach(p ${packages})
  step(dpkg-deb -x ${deb_${p}} ${root})
endforeach()

# Every ELF file: stripped, and no test hook compiled in. The known hook
# names, then any ZENML_*TEST* string at all.
set(test_hooks ZENML_SPOOL_TEST_CRASH_AFTER_INGEST ZENML_SPOOL_TEST_HOOKS)
file(GLOB elves ${root}/usr/bin/* ${root}/usr/lib/*/libzenml-analytics.so.*.*)
list(LENGTH elves n)
if(NOT n EQUAL 5)
  message(FATAL_ERROR "expected 4 tools and 1 library, found: ${elves}")
endif()
foreach(f ${elves})
  step(readelf -S -W ${f})
  if(step_out MATCHES "\\.symtab|\\.debug_")
    message(FATAL_ERROR "${f} is not stripped")
  endif()
  file(STRINGS ${f} hooks REGEX "ZENML_[A-Z0-9_]*TEST")
  foreach(h ${test_hooks})
    file(STRINGS ${f} named REGEX "${h}")
    list(APPEND hooks ${named})
  endforeach()
  if(hooks)
    message(FATAL_ERROR "${f} carries test hooks: ${hooks}")
  endif()
endforeach()
file(GLOB so ${root}/usr/lib/*/libzenml-analytics.so.0)
step(readelf -d ${so})
require("${step_out}" "SONAME\\)[^\n]*\\[libzenml-analytics\\.so\\.0\\]" "SONAME")

file(READ ${root}/usr/lib/systemd/user/zenml-upload.service service)
require("${service}" "\nExecStart=/usr/bin/zenml-upload --quiet\n" "unit ExecStart")
file(READ ${root}/usr/lib/systemd/system/zenml-upload@.service service)
require("${service}" "\nExecStart=/usr/bin/zenml-upload --quiet --write-key-file " "system unit ExecStart")

find_program(MAN man)
foreach(tool zenml-analytics zenml-upload zenml-spool-dump)
  if(MAN)  # man-db's own reading of the page (preconv, groff)
    set(ENV{MANWIDTH} 80)
    step(${MAN} -l ${root}/usr/share/man/man1/${tool}.1.gz)
    require("${step_out}" "\nNAME\n +${tool} " "man -l ${tool}.1.gz")
    require("${step_out}" "\nSYNOPSIS\n" "man -l ${tool}.1.gz")
  endif()
  step(gzip -dc ${root}/usr/share/man/man1/${tool}.1.gz)
  require("${step_out}" "\n\\.TH \"${tool}\" \"1\"" "${tool}(1) header")
  require("${step_out}" "\n\\.SH\nNAME\n" "${tool}(1) NAME section")
  step(${root}/usr/bin/${tool} --help)
  require("${step_out}" "man ${tool}" "${tool} --help")
endforeach()

# --- A consumer against the unpacked root --------------------------------------
step(${CMAKE_COMMAND} -DSOURCE_DIR=${SOURCE_DIR}/tests/consumer
  -DWORK_DIR=${WORK_DIR}/consumer -DPREFIX=${root}/usr
  -P ${SOURCE_DIR}/tests/consumer/consumer_test.cmake)
message(STATUS "packages checked: ${deb_libzenml-analytics0} ${deb_zenml-analytics} ${deb_zenml-analytics-dev}\n${step_out}")
