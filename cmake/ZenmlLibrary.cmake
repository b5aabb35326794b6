# zenml_add_library(<layer> SOURCES ... [PUBLIC_LIBS ...] [PRIVATE_LIBS ...])
# One static library per folder: zenml_<layer>, aliased zenml::<layer>, for
# in-tree use only (the installed package is the shared zenml::analytics, see
# client/CMakeLists.txt); includes rooted at the repository, and the
# warning/sanitizer policy linked privately.
function(zenml_add_library layer)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  set(target zenml_${layer})
  add_library(${target} STATIC ${ARG_SOURCES})
  add_library(zenml::${layer} ALIAS ${target})
  # Hidden symbols: these archives are linked into libzenml-analytics.so,
  # which must export only the public API (include/zenml/analytics/export.h).
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${layer} OUTPUT_NAME ${target}
    CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_link_libraries(${target}
    PUBLIC ${ARG_PUBLIC_LIBS}
    PRIVATE ${ARG_PRIVATE_LIBS} $<BUILD_INTERFACE:zenml_policy>)
endfunction()
