// The examples' shared program: command line, data, training with progress
// and checkpoints, evaluation, figure and output files. Each example's main()
// only picks the default data set; see run_example and `<example> --help`.
#pragma once

#include <string>

namespace deepenergy::examples {

/// Runs an example program: parses argc/argv (see --help), trains the paper's
/// model (or loads one), writes figure.png, samples.csv (refined by Langevin
/// on the energy), generator_samples.csv, energy_grid.csv, model.ckpt and
/// metrics.json into the output directory and prints the
/// evaluation. `default_dataset` is a data set id of
/// deepenergy::datasets ("two-spiral", "four-spin", ...). Returns the process
/// exit code: 0 on success, 1 on any error (message on stderr, starting with
/// "error: "), 2 for a bad command line. Never throws.
int run_example(int argc, char** argv, const std::string& default_dataset);

}  // namespace deepenergy::examples
