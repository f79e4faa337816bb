# The examples evaluate the energy's average (--energy-average, on by
# default), not its last parameters, and --load evaluates the same model:
# a default run and a run with --energy-average 0 train identically (the
# average does not feed back: same losses, same generator samples), so
# their held-out NLLs (final and traced) differ only through the average;
# --load of the default run must reproduce its NLL exactly (it would report
# the last parameters' if it did not put the average in).
#   cmake -DPROGRAM=<exe> -DOUT=<dir> -P check_energy_average.cmake
set(common --steps 40 --eval-grid 16 --sample-steps 2)
function(run_and_read out_dir result)
  execute_process(COMMAND "${PROGRAM}" ${ARGN} --out "${out_dir}" RESULT_VARIABLE status
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${PROGRAM} ${ARGN} failed (exit status ${status}):\n${err}")
  endif()
  file(READ "${out_dir}/metrics.json" json)
  string(JSON nll GET "${json}" test_nll)
  string(JSON decay GET "${json}" energy_average)
  string(JSON eloss GET "${json}" energy_loss)
  string(JSON gloss GET "${json}" generator_loss)
  string(JSON n LENGTH "${json}" nll_trace)
  set(traced "")
  if(n GREATER 0)
    math(EXPR n "${n} - 1")
    string(JSON traced GET "${json}" nll_trace ${n})
  endif()
  set(${result} "${nll};${decay};${eloss};${gloss};${traced}" PARENT_SCOPE)
endfunction()

run_and_read("${OUT}/averaged" averaged ${common})
run_and_read("${OUT}/loaded" loaded --load "${OUT}/averaged/model.ckpt" --eval-grid 16
             --sample-steps 2)
run_and_read("${OUT}/last" last ${common} --energy-average 0)
message(STATUS "test NLL (energy average): trained ${averaged}, loaded ${loaded}, "
               "last parameters ${last}")
list(GET averaged 1 decay)
if(NOT decay EQUAL 0.999)
  message(FATAL_ERROR "metrics.json: energy_average ${decay}, expected the default 0.999")
endif()
list(GET last 1 decay)
if(NOT decay EQUAL 0)
  message(FATAL_ERROR "metrics.json: energy_average ${decay} with --energy-average 0")
endif()
list(GET averaged 0 a)
list(GET loaded 0 l)
list(GET last 0 r)
if(NOT a STREQUAL l)
  message(FATAL_ERROR "--load reports test NLL ${l}, the run that trained it ${a}")
endif()
if(a STREQUAL r)
  message(FATAL_ERROR "the averaged and the last parameters give the same test NLL ${a}: "
                      "the average is not used")
endif()
# The same training: losses and the generator's samples.
foreach(k 2 3)
  list(GET averaged ${k} x)
  list(GET last ${k} y)
  if(NOT x STREQUAL y)
    message(FATAL_ERROR "the runs with and without the average trained differently "
                        "(loss ${x} against ${y})")
  endif()
endforeach()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files "${OUT}/averaged/generator_samples.csv"
                        "${OUT}/last/generator_samples.csv" RESULT_VARIABLE differ)
if(NOT differ EQUAL 0)
  message(FATAL_ERROR "the runs with and without the average have different generators")
endif()
# The trace's last point is of the averaged model, too.
list(GET averaged 4 x)
list(GET last 4 y)
if(x STREQUAL "" OR x STREQUAL y)
  message(FATAL_ERROR "the held-out NLL trace ends at ${x} with the average, ${y} without")
endif()
