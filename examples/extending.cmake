# The "Extending" examples (README): custom_expert and custom_layer, each a
# user-defined type written outside the library, gradient-checked and trained.
# Included at the end of examples/CMakeLists.txt, which has already found stb
# (DEEPENERGY_STB_INCLUDE_DIR) and built its implementation once
# (deepenergy_stb). They need no CLI11: their three flags are parsed by hand
# (common/extension_demo.hpp).

foreach(example custom_expert custom_layer)
  add_executable(${example} ${CMAKE_CURRENT_LIST_DIR}/${example}.cpp
                            $<TARGET_OBJECTS:deepenergy_stb>)
  target_include_directories(${example} PRIVATE "${CMAKE_CURRENT_LIST_DIR}")
  target_include_directories(${example} SYSTEM PRIVATE "${DEEPENERGY_STB_INCLUDE_DIR}")
  deepenergy_configure_executable(${example})
endforeach()

# Smoke tests: a short run (its gradient check must pass and it must write its
# figure), then the figure must exist; an unknown flag must fail.
if(DEEPENERGY_BUILD_TESTS)
  foreach(example custom_expert custom_layer)
    set(out "${CMAKE_CURRENT_BINARY_DIR}/smoke/${example}")
    add_test(NAME examples/${example}/clean COMMAND ${CMAKE_COMMAND} -E rm -rf "${out}")
    set_tests_properties(examples/${example}/clean PROPERTIES FIXTURES_SETUP ${example}_clean
                                                              LABELS examples)
    add_test(NAME examples/${example}/train COMMAND ${example} --steps 30 --seed 3 --out "${out}")
    set_tests_properties(
      examples/${example}/train
      PROPERTIES FIXTURES_REQUIRED ${example}_clean FIXTURES_SETUP ${example}_trained
                 LABELS examples PASS_REGULAR_EXPRESSION "wrote .*figure.png")
    # sha256sum fails when the file is missing.
    add_test(NAME examples/${example}/figure COMMAND ${CMAKE_COMMAND} -E sha256sum
                                                     "${out}/figure.png")
    set_tests_properties(examples/${example}/figure PROPERTIES FIXTURES_REQUIRED ${example}_trained
                                                               LABELS examples)
    add_test(NAME examples/${example}/bad_flag COMMAND ${example} --stpes 10)
    set_tests_properties(examples/${example}/bad_flag PROPERTIES WILL_FAIL TRUE LABELS examples)
  endforeach()
endif()
