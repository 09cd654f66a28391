/* train_f32.c — the fp32 build of the CPU trainer's math (train_*.inc): what `heal` runs. */
#include "train_real.h"

#include "train_core.inc"
#include "train_fwd.inc"
#include "train_bwd.inc"
