# Runs PROGRAM with the arguments after "--" and passes only if it exits with
# a non-zero status and its standard error contains MESSAGE (a regular
# expression). Usage:
#   cmake -DPROGRAM=<exe> -DMESSAGE=<regex> [-DOUT=<dir>] -P expect_failure.cmake -- <args>...
set(args "")
set(after_separator FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE ${last})
  if(after_separator)
    list(APPEND args "${CMAKE_ARGV${i}}")
  elseif("${CMAKE_ARGV${i}}" STREQUAL "--")
    set(after_separator TRUE)
  endif()
endforeach()
if(DEFINED OUT)
  list(APPEND args --out "${OUT}")
endif()

execute_process(COMMAND "${PROGRAM}" ${args} RESULT_VARIABLE status OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
message(STATUS "exit status: ${status}\nstderr: ${err}")
if(status EQUAL 0)
  message(FATAL_ERROR "expected a non-zero exit status for: ${args}")
endif()
if(NOT err MATCHES "${MESSAGE}")
  message(FATAL_ERROR "standard error does not contain \"${MESSAGE}\"")
endif()
if(NOT err MATCHES "^error: ")
  message(FATAL_ERROR "standard error does not start with \"error: \"")
endif()
