# Checks the installed deepenergy.pc: `pkg-config --cflags deepenergy` must
# name the installed include directory, and those flags must be enough to
# compile and run a small program.
#   cmake -DPKG_CONFIG=<exe> -DPREFIX=<dir> -DPC_DIR=<dir> -DINCLUDE_DIR=<dir>
#         -DCXX=<compiler> -DSOURCE=<main.cpp> -DOUTPUT=<exe> -P pkg_config.cmake
foreach(var PKG_CONFIG PREFIX PC_DIR INCLUDE_DIR CXX SOURCE OUTPUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "pkg_config.cmake: ${var} is not set")
  endif()
endforeach()

if(DEFINED ENV{PKG_CONFIG_PATH} AND NOT "$ENV{PKG_CONFIG_PATH}" STREQUAL "")
  set(ENV{PKG_CONFIG_PATH} "${PC_DIR}:$ENV{PKG_CONFIG_PATH}")
else()
  set(ENV{PKG_CONFIG_PATH} "${PC_DIR}")
endif()

execute_process(
  COMMAND "${PKG_CONFIG}" --cflags deepenergy
  OUTPUT_VARIABLE cflags
  ERROR_VARIABLE errors
  RESULT_VARIABLE rc
  OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config --cflags deepenergy failed (${rc}): ${errors}")
endif()
message(STATUS "pkg-config --cflags deepenergy: ${cflags}")

# The .pc file computes its prefix from its own location (prefix=${pcfiledir}/../..),
# so compare normalised paths.
file(REAL_PATH "${INCLUDE_DIR}" expected)
separate_arguments(flags UNIX_COMMAND "${cflags}")
set(found FALSE)
foreach(flag IN LISTS flags)
  if(flag MATCHES "^-I(.+)$")
    file(REAL_PATH "${CMAKE_MATCH_1}" dir)
    if(dir STREQUAL expected)
      set(found TRUE)
    endif()
  endif()
endforeach()
if(NOT found)
  message(FATAL_ERROR "pkg-config --cflags deepenergy does not name ${expected}: '${cflags}'")
endif()

get_filename_component(out_dir "${OUTPUT}" DIRECTORY)
file(MAKE_DIRECTORY "${out_dir}")
execute_process(COMMAND "${CXX}" -std=c++20 -Wall -Wextra -Werror ${flags} "${SOURCE}" -o
                        "${OUTPUT}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "compiling ${SOURCE} with the pkg-config flags failed (${rc})")
endif()
execute_process(COMMAND "${OUTPUT}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${OUTPUT} failed (${rc})")
endif()
