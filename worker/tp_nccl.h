/* tp_nccl.h — the NCCL side of tensor parallelism on the CUDA backend (one GPU per rank of a
 * worker group). The sharding itself is worker/tp_shard.h, shared with the CPU/MPI path; this
 * module only owns the communicator: created from an MPI group (NCCL unique id from group rank 0
 * broadcast over MPI), the in-place sum of the row-parallel partial products, teardown. In a
 * build without NCCL (SP_HAVE_NCCL unset) create fails with "not implemented". */
#ifndef SP_TP_NCCL_H
#define SP_TP_NCCL_H

#include <mpi.h>
#include <stddef.h>

#include "../common/error.h"

typedef struct sp_tp_nccl sp_tp_nccl;

/* Collective over `group` (size > 1), each rank on its current CUDA device. First checks over
 * MPI that no two ranks share a GPU (PCI bus ids; the message names both ranks and the GPU),
 * then creates the communicator (non-blocking NCCL init, polled: no rank waits in NCCL longer
 * than 45 s, so a group with a failing rank ends within 60 s). The result is the same on every
 * rank (agreed over MPI); the message of the rank where NCCL failed names the NCCL error. */
int sp_tp_nccl_create(MPI_Comm group, sp_tp_nccl **out, sp_error *err);
void sp_tp_nccl_free(sp_tp_nccl *t);

/* buf[n] fp32 (device) = the sum over the group of every rank's buf, enqueued on `stream`
 * (a cudaStream_t). Every rank calls it in the same order. NCCL failures are fatal, naming the
 * call. */
void sp_tp_nccl_sum(sp_tp_nccl *t, float *buf, size_t n, void *stream);

#endif
