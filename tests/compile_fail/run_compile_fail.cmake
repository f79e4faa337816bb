# Driver of one compile-fail test (see compile_fail.cmake); run with cmake -P.
#   -DCXX=<compiler> -DSTD_FLAG=<-std=c++20> -DFLAGS_FILE=<generated file>
#   -DLIBRARY_INCLUDE=<the library's include dir> -DSOURCE=<snippet.cpp>
#   -DMODE=ok|fail -DEXPECTED=<sentence the first error must contain>
cmake_minimum_required(VERSION 3.21)

foreach(var CXX STD_FLAG FLAGS_FILE LIBRARY_INCLUDE SOURCE MODE EXPECTED)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_compile_fail.cmake: -D${var}=... is missing")
  endif()
endforeach()
include("${FLAGS_FILE}")  # sets INCLUDES and DEFINES

# The library's own headers with -I, so its warnings show; the others (Eigen)
# as system headers, as CMake does for imported targets.
set(args ${STD_FLAG} -fsyntax-only -Wall -Wextra -Wpedantic)
foreach(dir IN LISTS INCLUDES)
  if(dir STREQUAL LIBRARY_INCLUDE)
    list(APPEND args "-I${dir}")
  else()
    list(APPEND args -isystem "${dir}")
  endif()
endforeach()
foreach(def IN LISTS DEFINES)
  list(APPEND args "-D${def}")
endforeach()
if(MODE STREQUAL "fail")
  list(APPEND args -DDEEPENERGY_FAIL)
endif()

execute_process(
  COMMAND "${CXX}" ${args} "${SOURCE}"
  RESULT_VARIABLE rc
  OUTPUT_VARIABLE out
  ERROR_VARIABLE out)

if(MODE STREQUAL "ok")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${SOURCE} must compile as is, but failed:\n${out}")
  endif()
  message(STATUS "compiles, as it must")
  return()
endif()

if(rc EQUAL 0)
  message(FATAL_ERROR "${SOURCE} must NOT compile with -DDEEPENERGY_FAIL, but it did")
endif()
# The first line that reports an error (not the "In instantiation of" and
# "required from" context lines that precede it).
string(REGEX MATCH "[^\n]*error:[^\n]*" first_error "${out}")
if(first_error STREQUAL "")
  message(FATAL_ERROR "the compiler failed without an `error:` line:\n${out}")
endif()
string(FIND "${first_error}" "${EXPECTED}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "the first error does not contain \"${EXPECTED}\".\n"
                      "first error: ${first_error}\nfull output:\n${out}")
endif()
message(STATUS "fails as it must; first error:\n${first_error}")
