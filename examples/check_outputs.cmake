# Checks what an example run wrote into OUT: every output file exists and is
# not empty, the CSV files have their headers and row counts, and eval.csv has
# one row per input point (POINTS) after its header.
#   cmake -DOUT=<dir> -DPOINTS=<n> -P check_outputs.cmake
foreach(file figure.png samples.csv generator_samples.csv energy_grid.csv model.ckpt metrics.json
             eval.csv)
  if(NOT EXISTS "${OUT}/${file}")
    message(FATAL_ERROR "${OUT}/${file} is missing")
  endif()
  file(SIZE "${OUT}/${file}" size)
  if(size EQUAL 0)
    message(FATAL_ERROR "${OUT}/${file} is empty")
  endif()
endforeach()

file(READ "${OUT}/figure.png" magic LIMIT 4 HEX)
if(NOT magic STREQUAL "89504e47")
  message(FATAL_ERROR "${OUT}/figure.png is not a PNG file (starts with ${magic})")
endif()
file(READ "${OUT}/model.ckpt" magic LIMIT 8 HEX)
if(NOT magic STREQUAL "44454550454e5247") # "DEEPENRG"
  message(FATAL_ERROR "${OUT}/model.ckpt is not a deepenergy checkpoint")
endif()

# check_csv(<file> <header> <data rows>)
function(check_csv file header rows)
  file(STRINGS "${OUT}/${file}" lines)
  list(LENGTH lines n)
  list(GET lines 0 first)
  if(NOT first STREQUAL "${header}")
    message(FATAL_ERROR "${OUT}/${file}: header is \"${first}\", expected \"${header}\"")
  endif()
  math(EXPR expected "${rows} + 1")
  if(NOT n EQUAL expected)
    message(FATAL_ERROR "${OUT}/${file}: ${n} lines, expected ${expected} (header + ${rows})")
  endif()
endfunction()
check_csv(samples.csv "x,y" 10000)
check_csv(generator_samples.csv "x,y" 10000)
check_csv(energy_grid.csv "x,y,energy" 40000)
check_csv(eval.csv "x,y,energy,log_density" ${POINTS})

file(READ "${OUT}/metrics.json" json)
foreach(key steps wall_seconds steps_per_second energy_loss generator_loss log_z log_z_error
            test_nll oracle_entropy gap kde_nll kde_gap mmd2 generator_mmd2 alignment_kl rollbacks
            lr_scale sample_steps sample_step_size sample_jump_every sample_seconds entropy_neighbours
            batchnorm_entropy_weight)
  if(NOT json MATCHES "\"${key}\": [-0-9]")
    message(FATAL_ERROR "${OUT}/metrics.json: no number for \"${key}\"")
  endif()
endforeach()
# The held-out NLL trace: one value per tenth of training, and the largest
# jump between two of them in the second half.
if(NOT json MATCHES "\"nll_trace\": \\[[-0-9]")
  message(FATAL_ERROR "${OUT}/metrics.json: no held-out NLL values in \"nll_trace\"")
endif()
if(NOT json MATCHES "\"nll_max_jump_second_half\": [0-9]")
  message(FATAL_ERROR "${OUT}/metrics.json: no number for \"nll_max_jump_second_half\"")
endif()
message(STATUS "${OUT}: all outputs present")
