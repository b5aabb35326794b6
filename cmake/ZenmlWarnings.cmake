# Warning and sanitizer policy as INTERFACE targets, linked privately through
# $<BUILD_INTERFACE:...> so they never leak into the installed package.
add_library(zenml_warnings INTERFACE)
target_compile_options(zenml_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
  -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough
  -Wformat=2 -Wmissing-declarations)
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  # Clang's static thread-safety analysis: fields marked GUARDED_BY a
  # core::Mutex (core/mutex.h, core/thread_annotations.h) are checked at
  # compile time (the `clang` preset builds with it and -Werror).
  # -Wambiguous-reversed-operator stays on: RapidJSON 1.1.0's non-const member
  # iterators trip it in C++20, so our code compares const ones
  # (std::as_const(doc).FindMember / MemberEnd).
  target_compile_options(zenml_warnings INTERFACE -Wthread-safety)
endif()
if(ZENML_WERROR)
  target_compile_options(zenml_warnings INTERFACE -Werror)
endif()

add_library(zenml_sanitizers INTERFACE)
if(ZENML_SANITIZERS)
  # "address;undefined" by default; any list -fsanitize accepts works.
  string(REPLACE ";" "," _zenml_san "${ZENML_SANITIZERS}")
  if(_zenml_san STREQUAL "ON")
    set(_zenml_san "address,undefined")
  endif()
  target_compile_options(zenml_sanitizers INTERFACE
    -fsanitize=${_zenml_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(zenml_sanitizers INTERFACE -fsanitize=${_zenml_san})
endif()

# zenml_policy: what every first-party target links privately.
add_library(zenml_policy INTERFACE)
target_link_libraries(zenml_policy INTERFACE zenml_warnings zenml_sanitizers)
