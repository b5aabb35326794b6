# zenml_add_man_pages(<tool>...): man1/<tool>.1.gz from docs/<tool>.md, made
# at build time with lowdown (Debian package `lowdown`, 289 kB installed with
# no dependency beyond libc/libbsd; pandoc would be 168 MB) and installed to
# share/man/man1 (component runtime). The docs are written as man pages
# ("# tool(1)", then "## Name", "## Synopsis", ...); cmake/ManPage.cmake
# turns their sections into man sections.
find_program(ZENML_LOWDOWN lowdown)
if(NOT ZENML_LOWDOWN)
  message(FATAL_ERROR "lowdown not found: run scripts/bootstrap.sh (apt-get "
    "install lowdown), or configure with -DZENML_MANPAGES=OFF")
endif()
find_program(ZENML_GZIP gzip REQUIRED)

function(zenml_add_man_pages)
  set(pages)
  foreach(tool ${ARGN})
    set(in ${PROJECT_SOURCE_DIR}/docs/${tool}.md)
    set(out ${PROJECT_BINARY_DIR}/man/man1/${tool}.1.gz)
    add_custom_command(OUTPUT ${out}
      COMMAND ${CMAKE_COMMAND} -DLOWDOWN=${ZENML_LOWDOWN} -DGZIP=${ZENML_GZIP}
        -DIN=${in} -DOUT=${out} -DNAME=${tool}
        "-DSOURCE=${PROJECT_NAME} ${PROJECT_VERSION}"
        -P ${PROJECT_SOURCE_DIR}/cmake/ManPage.cmake
      DEPENDS ${in} ${PROJECT_SOURCE_DIR}/cmake/ManPage.cmake
      COMMENT "Generating man page ${tool}(1)"
      VERBATIM)
    list(APPEND pages ${out})
  endforeach()
  add_custom_target(zenml_man_pages ALL DEPENDS ${pages})
  install(FILES ${pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
    COMPONENT runtime)
endfunction()
