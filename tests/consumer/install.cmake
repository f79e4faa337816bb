# Installs the build tree BUILD_DIR into a fresh PREFIX (the fixture of the
# consumer/find_package and consumer/pkg_config tests).
#   cmake -DBUILD_DIR=<build> -DPREFIX=<dir> [-DCONFIG=<config>] -P install.cmake
foreach(var BUILD_DIR PREFIX)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install.cmake: ${var} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE "${PREFIX}")
set(config_args)
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}"
                        ${config_args} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install ${BUILD_DIR} --prefix ${PREFIX} failed (${rc})")
endif()

foreach(file include/deepenergy/deepenergy.hpp share/cmake/deepenergy/deepenergyConfig.cmake
             share/cmake/deepenergy/deepenergyConfigVersion.cmake share/pkgconfig/deepenergy.pc)
  if(NOT EXISTS "${PREFIX}/${file}")
    message(FATAL_ERROR "install.cmake: ${PREFIX}/${file} was not installed")
  endif()
endforeach()
message(STATUS "deepenergy installed into ${PREFIX}")
