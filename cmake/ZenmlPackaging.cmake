# Debian packages with CPack's DEB generator (cpack --preset package, or
# `cpack -G DEB` in a build configured like the `package` preset: Release,
# tests off, prefix /usr). Three packages from the install components
# (cmake/ZenmlInstall.cmake), split as Debian policy 8.1 wants a shared
# library: in its own package named after its SONAME, so a program that only
# tracks depends on leveldb, fmt, yaml-cpp and zlib, not on curl or OpenSSL:
#   libzenml-analytics0  libzenml-analytics.so.0 (component lib)
#   zenml-analytics      the tools, man pages, systemd user units, docs
#   zenml-analytics-dev  public headers, the .so link, CMake package, .pc
# Binaries are stripped (CPACK_STRIP_FILES); Depends comes from
# dpkg-shlibdeps, and the library package carries a shlibs file and runs
# ldconfig. Why CPack and not debian/: the install rules already say what
# goes where, so a second description (debian/*.install, rules) would only
# drift from them, and CPack needs no tool beyond CMake, dpkg-dev (in
# build-essential) and `file`. A distribution that wants a source package
# can still wrap the same install rules in a debian/rules of its own.
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(VERBOSE "zenml-analytics: packages want CMAKE_INSTALL_PREFIX=/usr "
    "(the units' ExecStart and the multiarch libdir come from it); see the "
    "`package` preset")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME zenml-analytics)
set(CPACK_PACKAGE_VENDOR "ZenML")
set(CPACK_PACKAGE_CONTACT "ZenML <info@zenml.io>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# CPackDeb puts a CPACK_PACKAGE_DESCRIPTION_SUMMARY above every component's
# description unless it is CPack's default (which project(DESCRIPTION)
# replaces): keep the default, so each component's first line is its own
# synopsis.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${CMAKE_PROJECT_NAME} built using CMake")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL lib runtime dev)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://zenml.io")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# A shlibs file for the package holding libzenml-analytics.so.0 (only that
# one has a shared library). 0.x: a program built against 0.1.0 needs 0.1.0.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY "=")

set(_zenml_lib_package libzenml-analytics${ZENML_ANALYTICS_SOVERSION})
set(CPACK_DEBIAN_LIB_PACKAGE_NAME ${_zenml_lib_package})
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
# The destructor may start zenml-upload (auto upload); without it events wait.
set(CPACK_DEBIAN_LIB_PACKAGE_RECOMMENDS zenml-analytics)
set(CPACK_COMPONENT_LIB_DESCRIPTION
  "offline-first usage-analytics spool for ZenML - shared library
Records ZenML's anonymous usage events into a local LevelDB spool in
microseconds, offline; the zenml-upload tool (package zenml-analytics)
sends them later in batches.")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME zenml-analytics)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION utils)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
  "offline-first usage-analytics spool for ZenML - tools
zenml-analytics (opt in or out, status, track from a shell), zenml-upload
(send the spooled events to Segment's batch API, or to and from a bundle
file) and zenml-spool-dump (show what is spooled), with their man pages
and systemd user units for an hourly upload.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME zenml-analytics-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${_zenml_lib_package} (= ${PROJECT_VERSION})")
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "offline-first usage-analytics spool for ZenML - development files
The C++17 public API (zenml/analytics/client.h, namespace zenml::analytics),
the CMake package ZenmlAnalytics (target zenml::analytics) and the
pkg-config file zenml-analytics.")

include(CPack)
