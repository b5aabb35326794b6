# Install rules, the exported CMake package `ZenmlAnalytics` and a pkg-config
# file (fmt's pattern: install(EXPORT … NAMESPACE …) plus a config that finds
# its own dependencies). Included at the end of the top-level CMakeLists.txt
# when ZENML_INSTALL is ON, so every library and tool target exists by now;
# each is installed only if its folder defined it.
#
#   lib/libzenml_{core,client,spool,uploader}.a
#   include/zenml_analytics/<folder>/*.h      (#include "core/status.h")
#   bin/zenml-analytics, zenml-upload, zenml-spool-dump
#   lib/cmake/ZenmlAnalytics/                 find_package(ZenmlAnalytics)
#   lib/pkgconfig/zenml-analytics.pc
include(CMakePackageConfigHelpers)

set(ZENML_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/ZenmlAnalytics"
  CACHE STRING "Where the ZenmlAnalytics CMake package is installed")
set(_zenml_headers_dest "${CMAKE_INSTALL_INCLUDEDIR}/zenml_analytics")

# Libraries, dependencies first (the order pkg-config's Libs needs reversed).
set(_zenml_libs)
foreach(lib zenml_core zenml_spool zenml_client zenml_uploader)
  if(TARGET ${lib})
    list(APPEND _zenml_libs ${lib})
  endif()
endforeach()

install(TARGETS ${_zenml_libs}
  EXPORT ZenmlAnalyticsTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${_zenml_headers_dest})

# Public headers, one folder per layer. *_internal.h stay private.
function(_zenml_install_headers folder)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${folder}/
    DESTINATION ${_zenml_headers_dest}/${folder}
    FILES_MATCHING PATTERN "*.h"
    PATTERN "*_internal.h" EXCLUDE
    ${ARGN})
endfunction()
if(TARGET zenml_core)
  _zenml_install_headers(core)
endif()
if(TARGET zenml_client)
  _zenml_install_headers(client)
endif()
if(TARGET zenml_spool)
  _zenml_install_headers(spool)
endif()
if(TARGET zenml_uploader)
  _zenml_install_headers(uploader)
endif()

foreach(tool zenml-analytics zenml-upload zenml-spool-dump)
  if(TARGET ${tool})
    install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

install(EXPORT ZenmlAnalyticsTargets
  NAMESPACE zenml::
  FILE ZenmlAnalyticsTargets.cmake
  DESTINATION ${ZENML_INSTALL_CMAKEDIR})

# The config finds what the (static) libraries need at link time.
set(ZENML_PACKAGE_HAS_SPOOL OFF)
set(ZENML_PACKAGE_HAS_UPLOADER OFF)
if(TARGET zenml_spool)
  set(ZENML_PACKAGE_HAS_SPOOL ON)
endif()
if(TARGET zenml_uploader)
  set(ZENML_PACKAGE_HAS_UPLOADER ON)
endif()
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/ZenmlAnalyticsConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ZenmlAnalyticsConfig.cmake
  INSTALL_DESTINATION ${ZENML_INSTALL_CMAKEDIR})
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/ZenmlAnalyticsConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)  # 0.x: minor versions may break the API
install(FILES
  ${PROJECT_BINARY_DIR}/ZenmlAnalyticsConfig.cmake
  ${PROJECT_BINARY_DIR}/ZenmlAnalyticsConfigVersion.cmake
  DESTINATION ${ZENML_INSTALL_CMAKEDIR})

# pkg-config: the libraries are static, so their dependencies go in Requires
# and Libs (not the .private fields) and a plain `pkg-config --libs` links.
set(ZENML_PC_LIBS "")
set(ZENML_PC_REQUIRES "fmt yaml-cpp")
set(ZENML_PC_EXTRA_LIBS "-pthread")
list(REVERSE _zenml_libs)
foreach(lib ${_zenml_libs})
  string(APPEND ZENML_PC_LIBS " -l${lib}")
endforeach()
if(ZENML_PACKAGE_HAS_SPOOL)
  string(APPEND ZENML_PC_EXTRA_LIBS " -lleveldb")  # Debian ships no leveldb.pc
endif()
if(ZENML_PACKAGE_HAS_UPLOADER)
  string(APPEND ZENML_PC_REQUIRES " libcurl zlib libdeflate libcrypto")
endif()
# The prefix is found relative to the .pc file, so `cmake --install
# --prefix ANYWHERE` gives a working file.
file(RELATIVE_PATH ZENML_PC_PREFIX_FROM_PCDIR
  "${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/$" "" ZENML_PC_PREFIX_FROM_PCDIR "${ZENML_PC_PREFIX_FROM_PCDIR}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/zenml-analytics.pc.in
  ${PROJECT_BINARY_DIR}/zenml-analytics.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/zenml-analytics.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
