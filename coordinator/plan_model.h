/* plan_model.h — the cost model behind `swarmprune plan`: device memory per rank and seconds per
 * candidate for a model, a workload (plan_workload.h), a device and a tensor-parallel size.
 * Time = layer GEMM FLOPs of the kept layers / (peak x efficiency x tp)
 *      + causal attention FLOPs / (peak x attention efficiency x tp)
 *      + 2 all-reduces per kept layer of T x H fp32 partial sums over the group's link
 *      + head FLOPs (final norm + lm_head on the rows scored) / (peak x efficiency).
 * The figures of each device kind live in a table in plan_model.c with their sources.
 * Dimension letters as in worker/engine.h. */
#ifndef SP_PLAN_MODEL_H
#define SP_PLAN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/model_config.h"
#include "coordinator/plan_workload.h"

typedef enum { SP_PLAN_GPU = 0, SP_PLAN_CPU } sp_plan_backend;

typedef struct {
    char name[64];
    sp_plan_backend backend;
    double mem_gb;          /* memory per device (GPU) or per node (CPU), 1e9 bytes */
    double peak_tflops;     /* GPU: dense bf16 tensor-core peak; CPU: fp32 sgemm per core */
    double efficiency;      /* fraction of the peak the engine's GEMMs reach */
    double attn_efficiency; /* the same for attention */
    double nvlink_gbps;     /* GPU-to-GPU link inside a node, GB/s per direction */
    double pcie_gbps;       /* the same over PCIe */
    double expf_rate;       /* CPU: expf calls per second of one core (0 on GPUs: not modelled) */
    double exp_rate;        /* CPU: double exp calls per second of one core */
    double process_bytes;   /* CPU: resident bytes of this binary before any work (its
                               libraries: a CUDA-enabled build maps cuBLAS even on the CPU) */
    const char *source;     /* where the figures come from */
} sp_plan_device;

/* One of a100-40, a100-80, h100-80, h200-141, or custom:MEM_GB:TFLOPS:GBPS (GBPS: the GPU link
 * inside a node, GB/s per direction; efficiency as the H100's). */
int sp_plan_device_parse(const char *spec, sp_plan_device *out, sp_error *err);
/* The CPU engine (fp32) on this kind of machine: its node memory and the figures of one core
 * (sp_plan_cpu_calibrate). */
typedef struct {
    double gflops;    /* cblas_sgemm at the model's layer shapes */
    double expf_rate; /* expf per second (SwiGLU, attention softmax, log-softmax of the head) */
    double exp_rate;  /* double exp per second (the KL task's per-vocabulary sums) */
    double process_bytes; /* resident bytes of this process when the calibration starts */
} sp_plan_cpu_core;
void sp_plan_device_cpu(const sp_plan_cpu_core *core, double node_mem_gb, sp_plan_device *out);
/* Measures one core: single-thread cblas_sgemm GFLOP/s at the model's layer shapes (M = tokens
 * of a forward call) and expf/exp throughput, timed in process CPU seconds so that other work on
 * the machine does not lower them. Takes about `seconds`. */
void sp_plan_cpu_calibrate(const sp_model_config *cfg, int64_t m_tokens, double seconds,
                           sp_plan_cpu_core *out);

typedef struct {
    int tp;
    /* bytes per rank */
    double weights;      /* decoder layers (all of them: any mask can be asked) / tp */
    double embed_head;   /* token embedding + lm_head + final norm (replicated) */
    double activations;  /* the engine's workspace for the largest forward call */
    double attention;    /* attention scratch for the longest item (CPU) */
    double task;         /* task data, requests, KL dense cache */
    double runtime;      /* CUDA context + cuBLASLt workspace + NCCL, or the process baseline */
    double mapped;       /* CPU: the safetensors pages mapped while converting (resident) */
    double total;
    int fits;            /* total <= device memory (GPU) or node memory / ranks per node (CPU) */
} sp_plan_memory;

/* Memory per rank for a tensor-parallel size (tp must divide NH and NKV). */
void sp_plan_memory_per_rank(const sp_model_config *cfg, const sp_plan_workload *w,
                             const sp_plan_device *dev, int tp, sp_plan_memory *out);

typedef struct {
    double gemm_s, attn_s, comm_s, head_s; /* one evaluation at full fidelity */
    double elem_s;                         /* CPU: exp-bound element-wise work; GPU: launches */
    double total_s;
    double flops;                                   /* its floating-point operations */
} sp_plan_time;

/* Seconds of one full-fidelity evaluation with `kept` of the layers run. intra_node: the group
 * fits in one node (links: NVLink/PCIe), else the network (network_gbps, GB/s). */
void sp_plan_time_per_eval(const sp_model_config *cfg, const sp_plan_workload *w,
                           const sp_plan_level *lv, int kept,
                           const sp_plan_device *dev, int tp, int nvlink, int intra_node,
                           double network_gbps, sp_plan_time *out);

#endif
