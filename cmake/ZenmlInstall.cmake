# Install rules: what a distribution package or `cmake --install` puts on a
# machine. Included at the end of the top-level CMakeLists.txt when
# ZENML_INSTALL is ON, so every target exists by now.
#
# Component "lib" (Debian package libzenml-analytics<SOVERSION>):
#   lib/libzenml-analytics.so.<SOVERSION> (+ .so.<VERSION>)
#   share/doc/libzenml-analytics<SOVERSION>/copyright
# Component "runtime" (Debian package zenml-analytics):
#   bin/zenml-analytics, zenml-upload, zenml-spool-dump   (static internals)
#   share/man/man1/<tool>.1.gz                            (ZENML_MANPAGES)
#   bin/zenml-test-collector                  (ZENML_BUILD_COLLECTOR; try-it-locally)
#   lib/systemd/user/zenml-upload.{service,timer}         (ExecStart: bindir)
#   lib/systemd/system/zenml-upload@.{service,timer}      (system-wide, per user)
#   share/doc/zenml-analytics/{copyright,LICENSE,README.md,*.md}
# Component "dev" (Debian package zenml-analytics-dev):
#   include/zenml/analytics/*.h        the public API only (C++17)
#   include/zenml/analytics.h          the C API, if present
#   lib/libzenml-analytics.so          the link-time symlink
#   lib/cmake/ZenmlAnalytics/          find_package(ZenmlAnalytics) -> zenml::analytics
#   lib/pkgconfig/zenml-analytics.pc
#   share/doc/zenml-analytics-dev/copyright
# The static libraries (zenml_core, _spool, _client, _uploader) and their
# headers are for in-tree use and are not installed.
include(CMakePackageConfigHelpers)

set(ZENML_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/ZenmlAnalytics"
  CACHE STRING "Where the ZenmlAnalytics CMake package is installed")
set(ZENML_INSTALL_SYSTEMD_USERUNITDIR "lib/systemd/user"
  CACHE STRING "Where the systemd user units are installed (relative: to the prefix)")
set(ZENML_INSTALL_SYSTEMD_SYSTEMUNITDIR "lib/systemd/system"
  CACHE STRING "Where the systemd system units are installed (relative: to the prefix)")

install(TARGETS zenml_analytics
  EXPORT ZenmlAnalyticsTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
    COMPONENT lib
    NAMELINK_COMPONENT dev
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/zenml/analytics
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/zenml
  COMPONENT dev
  FILES_MATCHING PATTERN "*.h")
# The C API (zenml/analytics.h, for the Python binding and C callers), when
# the tree has it; its zenml_analytics_* functions are exported by the
# version script (client/libzenml-analytics.map).
if(EXISTS ${PROJECT_SOURCE_DIR}/include/zenml/analytics.h)
  install(FILES ${PROJECT_SOURCE_DIR}/include/zenml/analytics.h
    DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/zenml COMPONENT dev)
endif()

# zenml-test-collector: the local Segment-compatible collector of the
# manual's try-it-locally example (docs/zenml-upload.md), when built
# (ZENML_BUILD_COLLECTOR).
foreach(tool zenml-analytics zenml-upload zenml-spool-dump zenml-test-collector)
  if(TARGET ${tool})
    install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
      COMPONENT runtime)
  endif()
endforeach()

# Man pages, generated at build time from docs/<tool>.md.
if(ZENML_MANPAGES)
  include(ZenmlManPages)
  zenml_add_man_pages(zenml-upload zenml-spool-dump zenml-analytics)
endif()

# systemd user units, pointed at the installed zenml-upload.
# The system-wide template pair (zenml-upload@<user>.timer) goes to the
# system unit dir; enabling it is the administrator's choice.
foreach(unit zenml-upload.service zenml-upload.timer
    system/zenml-upload@.service system/zenml-upload@.timer)
  file(READ ${PROJECT_SOURCE_DIR}/contrib/systemd/${unit} _unit_text)
  string(REPLACE "/usr/local/bin/zenml-upload"
    "${CMAKE_INSTALL_FULL_BINDIR}/zenml-upload" _unit_text "${_unit_text}")
  string(REPLACE "# Adjust ExecStart if zenml-upload is not installed in /usr/local/bin.\n"
    "" _unit_text "${_unit_text}")
  file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/systemd/${unit} CONTENT "${_unit_text}")
  if(unit MATCHES "^system/")
    set(_unit_dir ${ZENML_INSTALL_SYSTEMD_SYSTEMUNITDIR})
  else()
    set(_unit_dir ${ZENML_INSTALL_SYSTEMD_USERUNITDIR})
  endif()
  install(FILES ${PROJECT_BINARY_DIR}/systemd/${unit}
    DESTINATION ${_unit_dir} COMPONENT runtime)
endforeach()

# Licence and docs; Debian wants a copyright file in every package's doc dir.
install(FILES ${PROJECT_SOURCE_DIR}/cmake/debian/copyright
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/zenml-analytics COMPONENT runtime)
install(FILES ${PROJECT_SOURCE_DIR}/cmake/debian/copyright
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/zenml-analytics-dev COMPONENT dev)
install(FILES ${PROJECT_SOURCE_DIR}/cmake/debian/copyright
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/libzenml-analytics${ZENML_ANALYTICS_SOVERSION}
  COMPONENT lib)
install(FILES ${PROJECT_SOURCE_DIR}/LICENSE ${PROJECT_SOURCE_DIR}/README.md
  ${PROJECT_SOURCE_DIR}/docs/privacy.md ${PROJECT_SOURCE_DIR}/docs/scheduling.md
  ${PROJECT_SOURCE_DIR}/docs/bundle-format.md
  DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/zenml-analytics COMPONENT runtime)

# CMake package: zenml::analytics, a shared library whose dependencies are
# all private (no third-party type in a public header), so the config finds
# no dependency at all.
install(EXPORT ZenmlAnalyticsTargets
  NAMESPACE zenml::
  FILE ZenmlAnalyticsTargets.cmake
  DESTINATION ${ZENML_INSTALL_CMAKEDIR}
  COMPONENT dev)
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
  DESTINATION ${ZENML_INSTALL_CMAKEDIR}
  COMPONENT dev)

# pkg-config. Only the shared library is installed: its own DT_NEEDED entries
# bring leveldb, fmt, yaml-cpp and zlib, so Libs names it alone and there is
# nothing for Requires(.private)/Libs.private (no static archive to link
# with --static). Cflags sets no -std: the headers are C++17 and any later
# standard works. The prefix is found relative to the .pc file, so
# `cmake --install --prefix ANYWHERE` and `dpkg-deb -x` give a working file.
file(RELATIVE_PATH ZENML_PC_PREFIX_FROM_PCDIR
  "${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/$" "" ZENML_PC_PREFIX_FROM_PCDIR "${ZENML_PC_PREFIX_FROM_PCDIR}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/zenml-analytics.pc.in
  ${PROJECT_BINARY_DIR}/zenml-analytics.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/zenml-analytics.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
