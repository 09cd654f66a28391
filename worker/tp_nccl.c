/* tp_nccl.c — NCCL communicator of a CUDA tensor-parallel group (tp_nccl.h). */
#include "tp_nccl.h"

#if defined(SP_HAVE_CUDA) && defined(SP_HAVE_NCCL)
#include <nccl.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/cuda_check.h"
#include "tp_group.h"

#define SP_NCCL_CHECK(call)                                                                  \
    do {                                                                                     \
        ncclResult_t sp_nc_rc_ = (call);                                                     \
        if (sp_nc_rc_ != ncclSuccess)                                                        \
            sp_fatal(__FILE__, __LINE__, __func__, "NCCL error %d (%s) in `%s`",             \
                     (int)sp_nc_rc_, ncclGetErrorString(sp_nc_rc_), #call);                  \
    } while (0)

#define SP_BUSID_LEN 32

struct sp_tp_nccl {
    ncclComm_t comm;
    int rank, size;
};

/* Refuses two ranks of the group on one GPU (NCCL needs one device per rank). */
static int nccl_check_distinct_gpus(MPI_Comm group, int rank, int size, sp_error *err)
{
    char mine[SP_BUSID_LEN] = {0};
    int dev = -1;
    SP_CUDA_CHECK(cudaGetDevice(&dev));
    SP_CUDA_CHECK(cudaDeviceGetPCIBusId(mine, SP_BUSID_LEN - 1, dev));
    char *all = sp_xcalloc((size_t)size, SP_BUSID_LEN);
    MPI_Allgather(mine, SP_BUSID_LEN, MPI_CHAR, all, SP_BUSID_LEN, MPI_CHAR, group);
    int rc = 0;
    for (int a = 0; a < size && rc == 0; a++)
        for (int b = a + 1; b < size && rc == 0; b++)
            if (strncmp(all + a * SP_BUSID_LEN, all + b * SP_BUSID_LEN, SP_BUSID_LEN) == 0)
                rc = sp_error_set(err, "tensor parallelism (cuda): ranks %d and %d of the group "
                                  "both use GPU %s; give each rank its own GPU (e.g. srun "
                                  "--gpus-per-task=1, or SWARMPRUNE_CUDA_DEVICE per rank)", a, b,
                                  all + a * SP_BUSID_LEN);
    free(all);
    (void)rank; /* every rank computed the same verdict from the same data */
    return rc;
}

int sp_tp_nccl_create(MPI_Comm group, sp_tp_nccl **out, sp_error *err)
{
    *out = NULL;
    int rank = 0, size = 1;
    MPI_Comm_rank(group, &rank);
    MPI_Comm_size(group, &size);
    SP_ASSERT(size > 1);
    if (nccl_check_distinct_gpus(group, rank, size, err) != 0) return -1;
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    int bad = 0;
    if (rank == 0) {
        ncclResult_t r = ncclGetUniqueId(&id);
        if (r != ncclSuccess)
            bad = 1, sp_error_set(err, "tensor parallelism (cuda): ncclGetUniqueId: %s",
                                  ncclGetErrorString(r));
    }
    MPI_Bcast(&bad, 1, MPI_INT, 0, group);
    if (bad)
        return rank == 0 ? -1 : sp_error_set(err, "tensor parallelism (cuda): group rank 0 could "
                                             "not create the NCCL id");
    MPI_Bcast(&id, (int)sizeof id, MPI_BYTE, 0, group);
    sp_tp_nccl *t = sp_xcalloc(1, sizeof *t);
    t->rank = rank, t->size = size;
    ncclResult_t r = ncclCommInitRank(&t->comm, size, id, rank);
    if (r != ncclSuccess) {
        sp_error_set(err, "tensor parallelism (cuda): ncclCommInitRank (rank %d of %d): %s", rank,
                     size, ncclGetErrorString(r));
        t->comm = NULL;
    }
    if (sp_tp_agree(group, r != ncclSuccess, "tensor parallelism (cuda)", err) != 0) {
        sp_tp_nccl_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void sp_tp_nccl_free(sp_tp_nccl *t)
{
    if (!t) return;
    if (t->comm) SP_NCCL_CHECK(ncclCommDestroy(t->comm));
    free(t);
}

void sp_tp_nccl_sum(sp_tp_nccl *t, float *buf, size_t n, void *stream)
{
    SP_NCCL_CHECK(ncclAllReduce(buf, buf, n, ncclFloat32, ncclSum, t->comm, (cudaStream_t)stream));
}

#else /* no NCCL */

int sp_tp_nccl_create(MPI_Comm group, sp_tp_nccl **out, sp_error *err)
{
    (void)group;
    *out = NULL;
    return sp_error_set(err, "not implemented: tensor parallelism on the CUDA backend needs NCCL "
                        "(this build has none: NCCL was not found at configure time or "
                        "SP_WITH_NCCL=OFF)");
}

void sp_tp_nccl_free(sp_tp_nccl *t) { SP_ASSERT(t == NULL); }

void sp_tp_nccl_sum(sp_tp_nccl *t, float *buf, size_t n, void *stream)
{
    (void)buf, (void)n, (void)stream;
    SP_ASSERT_MSG(t == NULL && 0, "NCCL sum without NCCL");
}
#endif
