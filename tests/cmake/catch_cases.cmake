# Run as a script after a test program is built (tests/CMakeLists.txt, sit_add_test): asks the
# program for its Catch2 test cases and writes a ctest file that registers each case as its own
# test, "<program>: <case>", so that ctest -j spreads them over the cores and reports each case;
# a case that exits 77 (tests/support/skip.h) is reported as skipped.
# COST orders them for ctest -j (higher first).
#   cmake -DPROGRAM=<path> -DNAME=<program> -DLABELS=<a|b> -DTIMEOUT=<s> -DCOST=<n> -DOUT=<file> -P catch_cases.cmake
execute_process(COMMAND "${PROGRAM}" --list-test-names-only OUTPUT_VARIABLE listing RESULT_VARIABLE listed)
# Catch's exit status here is the number of cases listed.
if(NOT listed MATCHES "^[0-9]+$" OR listed EQUAL 0)
  message(FATAL_ERROR "${PROGRAM} --list-test-names-only: ${listed}")
endif()
string(REPLACE "|" ";" labels "${LABELS}")
string(REPLACE ";" "\\;" labels "${labels}")
# One list element per line: the names' own ';', '[' and ']' would split or join elements, so they
# are stood in for while the lines are split.
string(REPLACE ";" "<semicolon>" listing "${listing}")
string(REPLACE "[" "<open>" listing "${listing}")
string(REPLACE "]" "<close>" listing "${listing}")
string(REPLACE "\n" ";" cases "${listing}")
set(script "")
foreach(case IN LISTS cases)
  if(case STREQUAL "")
    continue()
  endif()
  string(REPLACE "<semicolon>" ";" case "${case}")
  string(REPLACE "<open>" "[" case "${case}")
  string(REPLACE "<close>" "]" case "${case}")
  # Catch reads ',', '[' and ']' in a test spec as syntax; escaped, they match themselves. A spec
  # that starts with '-' would be read as an option, one with '~' as an exclusion: '*' stands for
  # that first character. --warn NoTests fails a spec that matches no case.
  string(REGEX REPLACE "([],[])" "\\\\\\1" spec "${case}")
  if(spec MATCHES "^[-~]")
    string(SUBSTRING "${spec}" 1 -1 spec)
    set(spec "*${spec}")
  endif()
  string(APPEND script
    "add_test([==[${NAME}: ${case}]==] [==[${PROGRAM}]==] [==[${spec}]==] --warn NoTests)\n"
    "set_tests_properties([==[${NAME}: ${case}]==] PROPERTIES LABELS \"${labels}\" SKIP_RETURN_CODE 77"
    " ENVIRONMENT OMP_WAIT_POLICY=PASSIVE"
    " TIMEOUT ${TIMEOUT} COST ${COST})\n")
endforeach()
file(WRITE "${OUT}" "${script}")
