/* tp_group.h — the one collective every tensor-parallel step needs before a collective it
 * cannot back out of: all ranks of the group learn whether every rank succeeded, so no rank
 * enters an all-reduce (MPI or NCCL) the others will never reach. Used by the CPU engine, the
 * CUDA engine and the NCCL communicator setup. */
#ifndef SP_TP_GROUP_H
#define SP_TP_GROUP_H

#include <mpi.h>

#include "../common/error.h"

/* Collective over group. rc: this rank's status (0 ok; on failure err already holds the
 * reason). Returns 0 when every rank succeeded, else -1 on every rank; a rank that itself
 * succeeded gets "<who>: another rank of the group (size P) failed". */
int sp_tp_agree(MPI_Comm group, int rc, const char *who, sp_error *err);

#endif
