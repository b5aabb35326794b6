# zenml_add_library(<layer> SOURCES ... [PUBLIC_LIBS ...] [PRIVATE_LIBS ...])
# One library target per folder: zenml_<layer>, aliased zenml::<layer>,
# exported as zenml::<layer>, includes rooted at the repository (installed
# under include/zenml_analytics), and the warning/sanitizer policy linked
# privately so it never leaks into the installed package.
function(zenml_add_library layer)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  set(target zenml_${layer})
  add_library(${target} ${ARG_SOURCES})
  add_library(zenml::${layer} ALIAS ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${layer} OUTPUT_NAME ${target})
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/zenml_analytics>)
  target_compile_features(${target} PUBLIC cxx_std_20)
  target_link_libraries(${target}
    PUBLIC ${ARG_PUBLIC_LIBS}
    PRIVATE ${ARG_PRIVATE_LIBS} $<BUILD_INTERFACE:zenml_policy>)
endfunction()
