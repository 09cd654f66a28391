/* cuda_check.h — the one check-macro family for CUDA runtime and cuBLAS calls (C and CUDA).
 * Each macro evaluates its call once; on failure it reports the code, its name, the statement,
 * the current device, __func__ and file:line through sp_fatal (common/error.h), which adds
 * rank/host/pid, flushes stderr and aborts (MPI_Abort when MPI is up). Only for broken
 * invariants: tests probe for a device with sp_cuda_probe first and skip when there is none. */
#ifndef SP_CUDA_CHECK_H
#define SP_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <stdio.h>

#include "../common/error.h" /* C linkage and [[noreturn]] under C++ */

#define SP_CUDA_CHECK(call)                                                                  \
    do {                                                                                     \
        cudaError_t sp_cu_rc_ = (call);                                                      \
        if (sp_cu_rc_ != cudaSuccess) {                                                      \
            int sp_cu_dev_ = -1;                                                             \
            (void)cudaGetDevice(&sp_cu_dev_);                                                \
            sp_fatal(__FILE__, __LINE__, __func__, "CUDA error %d (%s: %s) in `%s` on device %d", \
                     (int)sp_cu_rc_, cudaGetErrorName(sp_cu_rc_), cudaGetErrorString(sp_cu_rc_), \
                     #call, sp_cu_dev_);                                                     \
        }                                                                                    \
    } while (0)

#define SP_CUBLAS_CHECK(call)                                                                \
    do {                                                                                     \
        cublasStatus_t sp_cb_rc_ = (call);                                                   \
        if (sp_cb_rc_ != CUBLAS_STATUS_SUCCESS) {                                            \
            int sp_cb_dev_ = -1;                                                             \
            (void)cudaGetDevice(&sp_cb_dev_);                                                \
            sp_fatal(__FILE__, __LINE__, __func__, "cuBLAS error %d (%s: %s) in `%s` on device %d", \
                     (int)sp_cb_rc_, cublasGetStatusName(sp_cb_rc_),                         \
                     cublasGetStatusString(sp_cb_rc_), #call, sp_cb_dev_);                   \
        }                                                                                    \
    } while (0)

/* After a kernel launch: launch-configuration errors surface through cudaGetLastError. */
#define SP_CUDA_CHECK_LAUNCH() SP_CUDA_CHECK(cudaGetLastError())

/* Non-fatal probe: 1 when a CUDA device is usable, else 0 with the reason in `reason` (e.g.
 * error 35 "driver version is insufficient" on machines without a GPU driver). Resets the
 * runtime's last-error slot so later checks do not see the probe's error. */
static inline int sp_cuda_probe(char *reason, size_t n)
{
    int count = 0;
    cudaError_t rc = cudaGetDeviceCount(&count);
    if (rc != cudaSuccess) {
        snprintf(reason, n, "no usable CUDA device: cudaGetDeviceCount: error %d (%s: %s)",
                 (int)rc, cudaGetErrorName(rc), cudaGetErrorString(rc));
        (void)cudaGetLastError();
        return 0;
    }
    if (count < 1) {
        snprintf(reason, n, "no CUDA device (cudaGetDeviceCount = 0)");
        return 0;
    }
    snprintf(reason, n, "%d CUDA device(s)", count);
    return 1;
}

#endif
