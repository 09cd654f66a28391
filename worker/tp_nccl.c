/* tp_nccl.c — NCCL communicator of a CUDA tensor-parallel group (tp_nccl.h). The communicator
 * is non-blocking (ncclCommInitRankConfig, blocking = 0, NCCL >= 2.14; nccl.h here is 2.28): its
 * creation is polled with a deadline, so a rank whose NCCL init fails or stalls cannot leave the
 * others waiting in NCCL forever; every rank gives up within SP_NCCL_TIMEOUT_S and the group
 * agrees on the failure over MPI (the dead-worker promise of the CPU path: ended within 60 s). */
#include "tp_nccl.h"

#if defined(SP_HAVE_CUDA) && defined(SP_HAVE_NCCL)
#include <nccl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
#define SP_NCCL_TIMEOUT_S 45.0 /* < 60 s: the MPI agreement after it is quick */

#if NCCL_VERSION_CODE < NCCL_VERSION(2, 14, 0)
#error "tp_nccl.c needs NCCL >= 2.14 (non-blocking communicators)"
#endif

struct sp_tp_nccl {
    ncclComm_t comm;
    int rank, size;
};

static double nccl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Waits while the non-blocking communicator is busy (state ncclInProgress), at most timeout_s.
 * Returns the final state, or ncclInProgress when the deadline passed. */
static ncclResult_t nccl_wait(ncclComm_t comm, double timeout_s)
{
    double t_end = nccl_now() + timeout_s;
    ncclResult_t state = ncclInProgress;
    for (;;) {
        ncclResult_t r = ncclCommGetAsyncError(comm, &state);
        if (r != ncclSuccess) return r;
        if (state != ncclInProgress || nccl_now() > t_end) return state;
        struct timespec nap = {0, 1000000}; /* 1 ms between polls */
        nanosleep(&nap, NULL);
    }
}

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

/* Creates t->comm (non-blocking) and waits for it at most SP_NCCL_TIMEOUT_S. On failure the
 * half-made communicator is aborted (no waiting for the other ranks), t->comm is NULL and err
 * says why. */
static ncclResult_t nccl_init_comm(sp_tp_nccl *t, ncclUniqueId id, sp_error *err)
{
    ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
    cfg.blocking = 0; /* returns at once; nccl_wait polls with a deadline */
    t->comm = NULL;
    ncclResult_t r = ncclCommInitRankConfig(&t->comm, t->size, id, t->rank, &cfg);
    if ((r == ncclSuccess || r == ncclInProgress) && t->comm) r = nccl_wait(t->comm, SP_NCCL_TIMEOUT_S);
    if (r == ncclSuccess) return r;
    if (r == ncclInProgress)
        sp_error_set(err, "tensor parallelism (cuda): NCCL communicator not ready after %.0f s "
                     "(rank %d of %d; another rank failed or the GPUs cannot reach each other)",
                     SP_NCCL_TIMEOUT_S, t->rank, t->size);
    else
        sp_error_set(err, "tensor parallelism (cuda): ncclCommInitRankConfig (rank %d of %d): %s",
                     t->rank, t->size, ncclGetErrorString(r));
    if (t->comm) (void)ncclCommAbort(t->comm);
    t->comm = NULL;
    return r == ncclSuccess ? ncclInternalError : r;
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
    ncclResult_t r = nccl_init_comm(t, id, err);
    if (sp_tp_agree(group, r != ncclSuccess, "tensor parallelism (cuda)", err) != 0) {
        if (t->comm) (void)ncclCommAbort(t->comm); /* a peer failed: no collective teardown */
        free(t);
        return -1;
    }
    *out = t;
    return 0;
}

void sp_tp_nccl_free(sp_tp_nccl *t)
{
    if (!t) return;
    if (t->comm) {
        ncclResult_t r = ncclCommFinalize(t->comm); /* non-blocking: may be in progress */
        if (r == ncclInProgress) r = nccl_wait(t->comm, SP_NCCL_TIMEOUT_S);
        if (r != ncclSuccess) (void)ncclCommAbort(t->comm);
        else SP_NCCL_CHECK(ncclCommDestroy(t->comm));
    }
    free(t);
}

void sp_tp_nccl_sum(sp_tp_nccl *t, float *buf, size_t n, void *stream)
{
    /* on a non-blocking communicator the enqueue itself may still be in progress on return */
    ncclResult_t r = ncclAllReduce(buf, buf, n, ncclFloat32, ncclSum, t->comm, (cudaStream_t)stream);
    if (r == ncclInProgress) r = nccl_wait(t->comm, SP_NCCL_TIMEOUT_S);
    if (r == ncclInProgress)
        sp_fatal(__FILE__, __LINE__, __func__, "NCCL all-reduce of %zu floats not enqueued after "
                 "%.0f s (rank %d of %d)", n, SP_NCCL_TIMEOUT_S, t->rank, t->size);
    SP_NCCL_CHECK(r);
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
