# cmake -DLOWDOWN=… -DGZIP=… -DIN=docs/<tool>.md -DOUT=<tool>.1.gz
#   -DNAME=<tool> -DSOURCE="<project> <version>" -P ManPage.cmake
# One man page from one docs/<tool>.md: drops the "# tool(1)" title (the .TH
# line says it), makes each "## Section" a man section (upper case), each
# "### Sub" a subsection, links to a sibling tool's page "tool(1)", then
# lowdown -Tman and gzip -9n (no name or time stamp: reproducible).
file(READ ${IN} text)
string(REGEX REPLACE "^# [^\n]*\n" "" text "${text}")
string(REGEX MATCHALL "\n## [^\n]*" headings "${text}")
foreach(h ${headings})
  string(TOUPPER "${h}" upper)
  string(REPLACE "\n## " "\n# " upper "${upper}")
  string(REPLACE "${h}" "${upper}" text "${text}")
endforeach()
string(REGEX REPLACE "\n### " "\n## " text "${text}")
foreach(tool zenml-upload zenml-spool-dump zenml-analytics)
  string(REPLACE "[${tool}.md](${tool}.md)" "**${tool}**(1)" text "${text}")
endforeach()
get_filename_component(dir ${OUT} DIRECTORY)
file(MAKE_DIRECTORY ${dir})
file(WRITE ${OUT}.md "${text}")
execute_process(
  COMMAND ${LOWDOWN} -s -Tman -M title=${NAME} -M section=1 -M "source=${SOURCE}"
    -o ${OUT}.tmp ${OUT}.md
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "lowdown failed on ${IN}")
endif()
execute_process(COMMAND ${GZIP} -9nf ${OUT}.tmp RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "gzip failed on ${OUT}.tmp")
endif()
file(RENAME ${OUT}.tmp.gz ${OUT})
file(REMOVE ${OUT}.md)
