// Umbrella header: the whole core API of deepenergy (no I/O, no plotting).
#pragma once

#include "deepenergy/concepts.hpp"
#include "deepenergy/energy_average.hpp"
#include "deepenergy/energy_model.hpp"
#include "deepenergy/experts.hpp"
#include "deepenergy/generator.hpp"
#include "deepenergy/gradient_check.hpp"
#include "deepenergy/layers.hpp"
#include "deepenergy/math.hpp"
#include "deepenergy/optimizers.hpp"
#include "deepenergy/paper.hpp"
#include "deepenergy/regularizers.hpp"
#include "deepenergy/rng.hpp"
#include "deepenergy/sampling.hpp"
#include "deepenergy/trainer.hpp"
#include "deepenergy/types.hpp"
