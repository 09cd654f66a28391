/* version.c — `swarmprune --version`: the program version (the one checkpoints record), the
 * checkpoint schema and the build's options (CUDA and NCCL on or off, CUDA architectures). */
#include "version.h"

#include <stdio.h>

#include "checkpoint.h"

void sp_print_version(FILE *f)
{
    fprintf(f, "swarmprune %s (checkpoint schema %d)\n", SP_CKPT_PROGRAM_VERSION,
            SP_CKPT_SCHEMA_VERSION);
#ifdef SP_HAVE_CUDA
#ifdef SP_CUDA_ARCHS
    fprintf(f, "build: CUDA backend on (archs %s)", SP_CUDA_ARCHS);
#else
    fprintf(f, "build: CUDA backend on");
#endif
#else
    fprintf(f, "build: CUDA backend off (CPU only)");
#endif
#ifdef SP_HAVE_NCCL
    fprintf(f, ", NCCL on");
#else
    fprintf(f, ", NCCL off");
#endif
#ifdef SP_HAVE_MPI
    fprintf(f, ", MPI on");
#endif
#ifdef __SANITIZE_ADDRESS__
    fprintf(f, ", ASan");
#endif
    fprintf(f, "\n");
}
