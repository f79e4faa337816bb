// The four-spin example (the paper's Figure 2a data): the same program as
// spiral with the four-spin set by default. Options: four_spin --help.
#include "common/app.hpp"

int main(int argc, char** argv) {
  return deepenergy::examples::run_example(argc, argv, "four-spin");
}
