# Compile-fail tests, in the style of Eigen's failtest: every snippet here is
# compiled twice with the library's include directories and flags, once as is
# (the "ok" test: it must compile) and once with -DDEEPENERGY_FAIL, which
# introduces one mistake (the "fail" test: it must not compile, and the FIRST
# error the compiler reports must contain the expected sentence, i.e. the
# library's static_assert fires before any template noise).
#
# Included from tests/CMakeLists.txt. Compiles with -fsyntax-only (no object
# code), so each test takes a few seconds. GCC and Clang only.

if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  message(STATUS "compile-fail tests need GCC or Clang (-fsyntax-only): skipped")
  return()
endif()

set(DEEPENERGY_COMPILE_FAIL_DIR "${CMAKE_CURRENT_LIST_DIR}")

# The library's usage requirements (its include directory, Eigen's, and any
# compile definitions such as EIGEN_USE_BLAS), written at generate time to a
# file the -P driver reads: generator expressions do not expand in -P scripts.
set(DEEPENERGY_COMPILE_FAIL_FLAGS "${CMAKE_CURRENT_BINARY_DIR}/compile_fail_flags.cmake")
file(
  GENERATE
  OUTPUT "${DEEPENERGY_COMPILE_FAIL_FLAGS}"
  CONTENT
    "set(INCLUDES \"$<TARGET_PROPERTY:deepenergy,INTERFACE_INCLUDE_DIRECTORIES>\")
set(DEFINES \"$<TARGET_PROPERTY:deepenergy,INTERFACE_COMPILE_DEFINITIONS>\")
")

# deepenergy_add_compile_fail_test(<case> <expected sentence>)
#   Registers compile_fail/<case>/ok and compile_fail/<case>/fail for
#   tests/compile_fail/<case>.cpp.
function(deepenergy_add_compile_fail_test name expected)
  foreach(mode ok fail)
    add_test(
      NAME compile_fail/${name}/${mode}
      COMMAND
        ${CMAKE_COMMAND} "-DCXX=${CMAKE_CXX_COMPILER}"
        "-DSTD_FLAG=${CMAKE_CXX20_STANDARD_COMPILE_OPTION}"
        "-DFLAGS_FILE=${DEEPENERGY_COMPILE_FAIL_FLAGS}"
        "-DLIBRARY_INCLUDE=${PROJECT_SOURCE_DIR}/include"
        "-DSOURCE=${DEEPENERGY_COMPILE_FAIL_DIR}/${name}.cpp" "-DMODE=${mode}"
        "-DEXPECTED=${expected}" -P "${DEEPENERGY_COMPILE_FAIL_DIR}/run_compile_fail.cmake")
    set_tests_properties(compile_fail/${name}/${mode} PROPERTIES LABELS compile_fail)
  endforeach()
endfunction()

# One line per case: the snippet and the sentence its first error must contain.
deepenergy_add_compile_fail_test(missing_energy "deepenergy: this Expert type has no energy")
deepenergy_add_compile_fail_test(missing_backward "deepenergy: this Layer type has no backward")
deepenergy_add_compile_fail_test(
  missing_backward_input "deepenergy: a Layer with parameters must provide backward_input")
deepenergy_add_compile_fail_test(
  mismatched_scalar "deepenergy: mismatched scalar types: all layers of a Sequential")
deepenergy_add_compile_fail_test(
  mismatched_scalar_trainer
  "deepenergy: mismatched scalar types: the energy model and the generator")
deepenergy_add_compile_fail_test(
  static_size_mismatch "deepenergy: size mismatch: the generator's output size differs")
deepenergy_add_compile_fail_test(optimizer_without_update
                                 "deepenergy: this optimiser has no update")
deepenergy_add_compile_fail_test(check_gradients_float
                                 "deepenergy: check_gradients runs in double precision")
deepenergy_add_compile_fail_test(check_gradients_missing_backward
                                 "deepenergy: this Layer type has no backward")
deepenergy_add_compile_fail_test(check_gradients_float_model
                                 "deepenergy: check_gradients runs in double precision")
