# Every dependency is a Debian package (scripts/bootstrap.sh installs them).
# Order matters on Debian 12: Threads before leveldb's CONFIG package.
find_package(Threads REQUIRED)
find_package(leveldb CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(CURL REQUIRED)
find_package(ZLIB REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
# libdeflate (request bodies' gzip): Debian ships a pkg-config file only.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBDEFLATE REQUIRED IMPORTED_TARGET libdeflate)

# RapidJSON 1.1 ships a config that defines no target; wrap its headers.
find_package(RapidJSON CONFIG REQUIRED)
if(NOT TARGET zenml_rapidjson)
  add_library(zenml_rapidjson INTERFACE)
  target_include_directories(zenml_rapidjson SYSTEM INTERFACE ${RapidJSON_INCLUDE_DIRS} ${RAPIDJSON_INCLUDE_DIRS})
endif()

if(ZENML_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
endif()
if(ZENML_BUILD_TESTS OR ZENML_BUILD_COLLECTOR)
  pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
endif()
if(ZENML_BUILD_BENCHMARKS)
  find_package(benchmark CONFIG REQUIRED)
endif()
