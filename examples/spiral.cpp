// The two-spiral example, the first program to run (bash cmake/spiral.sh):
// trains the paper's model on the two-spiral set and writes a Figure-2-style
// picture, samples, the energy on a grid, a checkpoint and the evaluation.
// Options: spiral --help.
#include "common/app.hpp"

int main(int argc, char** argv) {
  return deepenergy::examples::run_example(argc, argv, "two-spiral");
}
