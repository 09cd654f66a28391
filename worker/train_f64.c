/* train_f64.c — the fp64 build of the CPU trainer's math (train_*.inc) for gradient checks:
 * the same operations in double on the fp32 weights as loaded. */
#define SP_TRAIN_F64 1
#include "train_real.h"

#include "train_core.inc"
#include "train_fwd.inc"
#include "train_bwd.inc"
