# Install and export rules: headers, the CMake package (deepenergyConfig.cmake,
# deepenergyConfigVersion.cmake, deepenergyTargets.cmake) and a pkg-config file.
#
# The library is header only, so everything goes under share/ (arch independent).

include(CMakePackageConfigHelpers)

set(DEEPENERGY_CMAKE_INSTALL_DIR "${CMAKE_INSTALL_DATADIR}/cmake/deepenergy")
set(DEEPENERGY_PKGCONFIG_INSTALL_DIR "${CMAKE_INSTALL_DATADIR}/pkgconfig")

install(
  DIRECTORY "${PROJECT_SOURCE_DIR}/include/"
  DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
  FILES_MATCHING
  PATTERN "*.hpp")

install(TARGETS deepenergy EXPORT deepenergyTargets)
install(
  EXPORT deepenergyTargets
  NAMESPACE deepenergy::
  DESTINATION "${DEEPENERGY_CMAKE_INSTALL_DIR}")

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/deepenergyConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/deepenergyConfig.cmake"
  INSTALL_DESTINATION "${DEEPENERGY_CMAKE_INSTALL_DIR}")
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/deepenergyConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion
  ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/deepenergyConfig.cmake"
              "${PROJECT_BINARY_DIR}/deepenergyConfigVersion.cmake"
        DESTINATION "${DEEPENERGY_CMAKE_INSTALL_DIR}")

# pkg-config: the prefix is computed from the .pc file's own location, so the
# installed tree can be moved (or installed with `cmake --install --prefix X`).
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(DEEPENERGY_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(DEEPENERGY_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
configure_file("${PROJECT_SOURCE_DIR}/cmake/deepenergy.pc.in" "${PROJECT_BINARY_DIR}/deepenergy.pc"
               @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/deepenergy.pc" DESTINATION "${DEEPENERGY_PKGCONFIG_INSTALL_DIR}")

install(FILES "${PROJECT_SOURCE_DIR}/LICENSE" DESTINATION "${CMAKE_INSTALL_DOCDIR}")
