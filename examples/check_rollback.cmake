# Runs PROGRAM with an energy learning rate so large that training diverges,
# under --divergence rollback, and checks what the run reports: a line per
# rollback on standard error, "rollbacks" in metrics.json, and a held-out NLL
# trace whose steps strictly increase (the points of the abandoned steps are
# dropped when the trainer goes back to an earlier step). With energy lr 3e5
# and no energy penalty (which changes where it diverges) the run diverges
# between steps 50 and 100 and goes back to step 0 (the
# snapshots are 100 steps apart), so without the dropping step 50 would be in
# the trace twice (checked: the test fails then).
#   cmake -DPROGRAM=<exe> -DOUT=<dir> -P check_rollback.cmake
execute_process(
  COMMAND "${PROGRAM}" --steps 500 --energy-lr 3e5 --energy-penalty 0 --divergence rollback
          --sample-steps 2 --eval-grid 16 --out "${OUT}"
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "exit status: ${status}\nstdout: ${out}\nstderr: ${err}")
if(NOT status EQUAL 0)
  message(FATAL_ERROR "the run failed (exit status ${status})")
endif()
if(NOT err MATCHES "rolled back to step [0-9]+ after a divergence \\(rollback 1\\)")
  message(FATAL_ERROR "no rollback reported on standard error: the test's learning rate no "
                      "longer makes this build diverge, so it tests nothing")
endif()
file(READ "${OUT}/metrics.json" json)
string(JSON rollbacks GET "${json}" rollbacks)
if(rollbacks LESS 1)
  message(FATAL_ERROR "metrics.json: \"rollbacks\" is ${rollbacks}, expected >= 1")
endif()
string(JSON n LENGTH "${json}" nll_trace_steps)
if(NOT n EQUAL 10)
  message(FATAL_ERROR "metrics.json: ${n} held-out NLL trace points, expected one per tenth (10)")
endif()
set(previous -1)
math(EXPR last "${n} - 1")
foreach(i RANGE ${last})
  string(JSON step GET "${json}" nll_trace_steps ${i})
  if(NOT step GREATER previous)
    message(FATAL_ERROR "metrics.json: nll_trace_steps[${i}] = ${step} after ${previous}")
  endif()
  set(previous ${step})
endforeach()
message(STATUS "${rollbacks} rollbacks, trace steps increase")

# The checkpoint keeps the lowered learning rates: --resume goes on with them.
execute_process(
  COMMAND "${PROGRAM}" --resume "${OUT}/model.ckpt" --steps 510 --divergence rollback
          --sample-steps 2 --eval-grid 16 --out "${OUT}-resume"
  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "resume: exit status: ${status}\nstderr: ${err}")
if(NOT status EQUAL 0)
  message(FATAL_ERROR "--resume of the rolled-back run failed (exit status ${status})")
endif()
# x0.5 per rollback (num() prints 0.5, 0.25, 0.125).
set(expected_scales 1 0.5 0.25 0.125)
list(GET expected_scales ${rollbacks} expected)
if(NOT err MATCHES "\\(x${expected} of the given rates, after earlier rollbacks\\)")
  message(FATAL_ERROR "--resume does not report the learning rates x${expected} of its "
                      "${rollbacks} rollbacks")
endif()
message(STATUS "--resume goes on with the learning rates x${expected}")
