/* train_real.h — the scalar type of one trainer build: float (train_f32.c) or double
 * (train_f64.c, SP_TRAIN_F64 defined; used by the gradient check). `real` names it, GEMM the
 * matching BLAS call, TR_SUFFIX the exported-name suffix. Included only by those two files. */
#ifndef SP_TRAIN_REAL_H
#define SP_TRAIN_REAL_H

#include <cblas.h>
#include <math.h>

#ifdef SP_TRAIN_F64
typedef double real;
#define GEMM cblas_dgemm
#define TR_EXP exp
#define TR_LOG log
#define TR_NAME(n) n##_f64
#else
typedef float real;
#define GEMM cblas_sgemm
#define TR_EXP expf
#define TR_LOG logf
#define TR_NAME(n) n##_f32
#endif

#define TR_NT CblasNoTrans
#define TR_T CblasTrans
#define TR_RM CblasRowMajor

#endif
