# Helpers for the project's own targets (tests, examples, benchmarks).

# deepenergy_target_warnings(<target>)
#   Turns on the project's warning flags for <target>. Headers that come from
#   imported targets (Eigen, doctest, benchmark) are system includes, so only
#   our own code is checked.
function(deepenergy_target_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic)
  elseif(MSVC)
    target_compile_options(${target} PRIVATE /W4 /permissive-)
  endif()
endfunction()

# deepenergy_target_native(<target>)
#   Adds -march=native to <target> when DEEPENERGY_NATIVE is ON.
function(deepenergy_target_native target)
  if(DEEPENERGY_NATIVE AND CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -march=native)
  endif()
endfunction()

# deepenergy_configure_executable(<target>)
#   What every executable of the project gets: the library, warnings, OpenMP
#   (when DEEPENERGY_OPENMP is ON) and -march=native (when DEEPENERGY_NATIVE is ON).
function(deepenergy_configure_executable target)
  target_link_libraries(${target} PRIVATE deepenergy::deepenergy deepenergy_openmp)
  deepenergy_target_warnings(${target})
  deepenergy_target_native(${target})
endfunction()
