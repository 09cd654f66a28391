/* plan_model.c — device table, memory per rank and time per candidate for `swarmprune plan`
 * (see plan_model.h). Every constant below carries its source. */
#include "plan_model.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* GPU efficiency: the only measured end-to-end figure we hold is transformers' ~32k tokens/s on
 * one H100 SXM for the Llama-3.1-8B shape at 64 x 128 tokens (issue 16; docs/GPU.md), i.e.
 * 32,000 x 15.0 GFLOP/token = 480 TFLOP/s = 0.49 of the 989 TFLOP/s bf16 dense peak. Our CUDA
 * engine has not run on a GPU yet (its prediction, 580-660 TFLOP/s, is not used here), so the
 * planner assumes the measured 0.49 for every GPU kind until docs/GPU.md holds our own figure.
 * Attention: the tensor-core flash kernel is predicted at 30-100 TFLOP/s on an H100
 * (docs/GPU.md); 0.05 of the peak (49 TFLOP/s) is taken, scaled by peak for other kinds. */
#define PLAN_GPU_EFFICIENCY 0.49
#define PLAN_GPU_ATTN_EFFICIENCY 0.05

/* Vendor figures: NVIDIA A100 datasheet (bf16 dense 312 TFLOP/s; NVLink 3: 600 GB/s total =
 * 300 GB/s per direction; PCIe gen4 x16 ~32 GB/s per direction), NVIDIA H100 SXM datasheet (bf16
 * dense 989 TFLOP/s; NVLink 4: 900 GB/s total = 450 per direction; PCIe gen5 x16 ~64 GB/s),
 * NVIDIA H200 SXM datasheet (same compute and NVLink as the H100, 141 GB). */
static const sp_plan_device plan_devices[] = {
    {"a100-40", SP_PLAN_GPU, 40, 312, PLAN_GPU_EFFICIENCY, PLAN_GPU_ATTN_EFFICIENCY, 300, 32, 0, 0, 0,
     "NVIDIA A100 datasheet (SXM4 40 GB); efficiency 0.49 from transformers on an H100"},
    {"a100-80", SP_PLAN_GPU, 80, 312, PLAN_GPU_EFFICIENCY, PLAN_GPU_ATTN_EFFICIENCY, 300, 32, 0, 0, 0,
     "NVIDIA A100 datasheet (SXM4 80 GB); efficiency 0.49 from transformers on an H100"},
    {"h100-80", SP_PLAN_GPU, 80, 989, PLAN_GPU_EFFICIENCY, PLAN_GPU_ATTN_EFFICIENCY, 450, 64, 0, 0, 0,
     "NVIDIA H100 SXM datasheet; efficiency 0.49 measured with transformers (8B, 64 x 128)"},
    {"h200-141", SP_PLAN_GPU, 141, 989, PLAN_GPU_EFFICIENCY, PLAN_GPU_ATTN_EFFICIENCY, 450, 64, 0, 0, 0,
     "NVIDIA H200 SXM datasheet; efficiency 0.49 measured with transformers on an H100"},
};

/* CUDA runtime per rank: the CUDA context and module images (~0.5 GiB on Hopper with cuBLAS
 * loaded, NVIDIA's CUDA C++ guide on lazy loading), the 32 MiB cuBLASLt workspace of
 * kernels/gemm.c, and with tp > 1 NCCL's channel buffers (~0.25 GiB at default settings). */
#define PLAN_CUDA_CONTEXT_BYTES (512.0 * 1048576.0)
#define PLAN_CUBLASLT_WORKSPACE (32.0 * 1048576.0)
#define PLAN_NCCL_BYTES (256.0 * 1048576.0)
/* CPU engine: its GEMMs run at the sgemm rate measured at the model's own shapes (bench_engine:
 * the engine's layer GEMMs are plain cblas_sgemm calls on the packed batch); attention's small
 * K = head_dim products reach about a third of it; the element-wise work is bound by expf (SwiGLU,
 * attention softmax, the head's log-softmax) and, for kl, by double exp over the vocabulary
 * (worker/task_kl.c), both measured. A worker process's resident set before any model is loaded
 * is this binary's own at start-up (read from /proc/self/statm: a CUDA-enabled build maps
 * ~220 MB of cuBLAS even on the CPU) plus what MPI_Init, HDF5 and OpenBLAS's buffers add (27 MiB,
 * measured with /usr/bin/time on the fixture's search); tests/cli_plan.sh checks the totals on
 * the fixture and SmolLM2. */
#define PLAN_CPU_ATTN_EFFICIENCY 0.35
#define PLAN_CPU_MPI_BYTES (27.0 * 1048576.0) /* MPI_Init (singleton) + HDF5 + BLAS buffers */
/* Engine constants mirrored here: head rows per chunk (engine_cpu.c, engine_cuda.c), the CPU
 * attention query block (engine_cpu_attn.c), the KL dense-cache budget and top-K (task_kl.h). */
#define PLAN_HEAD_CHUNK 512.0
#define PLAN_ATTN_QBLOCK 128
#define PLAN_KL_FULL_BUDGET (1024.0 * 1048576.0)
#define PLAN_KL_TOP_K 256.0
/* All-reduce latency per call: ~10 us over NVLink/PCIe, ~30 us over a network (nccl-tests'
 * small-message figures are of this order). */
#define PLAN_LAT_LINK 10e-6
#define PLAN_LAT_NET 30e-6
/* GPU launch overhead: ~15 kernels per layer per forward call at ~5 us each (CUDA's launch
 * latency); it only matters for small models. */
#define PLAN_GPU_LAYER_LAUNCH 75e-6

int sp_plan_device_parse(const char *spec, sp_plan_device *out, sp_error *err)
{
    for (size_t i = 0; i < sizeof plan_devices / sizeof plan_devices[0]; i++)
        if (!strcmp(spec, plan_devices[i].name)) {
            *out = plan_devices[i];
            return 0;
        }
    double mem, tf, gbps;
    char tail;
    if (strncmp(spec, "custom:", 7) == 0) {
        if (sscanf(spec + 7, "%lf:%lf:%lf%c", &mem, &tf, &gbps, &tail) != 3 || !(mem > 0) ||
            !(tf > 0) || !(gbps > 0) || !isfinite(mem) || !isfinite(tf) || !isfinite(gbps))
            return sp_error_set(err, "--gpu %s: expected custom:MEM_GB:TFLOPS:GBPS with three "
                                "positive numbers", spec);
        *out = plan_devices[2];
        snprintf(out->name, sizeof out->name, "custom");
        out->mem_gb = mem, out->peak_tflops = tf, out->nvlink_gbps = gbps, out->pcie_gbps = gbps;
        out->source = "given on the command line; efficiency 0.49 as the H100's";
        return 0;
    }
    return sp_error_set(err, "--gpu: unknown device \"%s\" (a100-40, a100-80, h100-80, h200-141 "
                        "or custom:MEM_GB:TFLOPS:GBPS)", spec);
}

void sp_plan_device_cpu(const sp_plan_cpu_core *core, double node_mem_gb, sp_plan_device *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "cpu");
    out->backend = SP_PLAN_CPU;
    out->mem_gb = node_mem_gb;
    out->peak_tflops = core->gflops * 1e-3;
    out->expf_rate = core->expf_rate;
    out->exp_rate = core->exp_rate;
    out->process_bytes = core->process_bytes;
    out->efficiency = 1.0;
    out->attn_efficiency = PLAN_CPU_ATTN_EFFICIENCY;
    out->nvlink_gbps = out->pcie_gbps = 5; /* MPI over shared memory, per direction */
    out->source = "cblas_sgemm and expf/exp measured on this machine (process CPU time)";
}

static double plan_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* expf (or exp) calls per CPU second over a vector of n values in [-20, 0]. */
static double plan_exp_rate(int dbl, double seconds)
{
    enum { N = 1 << 14 };
    static float xf[N];
    static double xd[N];
    for (int i = 0; i < N; i++) xf[i] = -20.0f * (float)i / N, xd[i] = xf[i];
    volatile double sink = 0;
    double calls = 0, t0 = plan_cpu_seconds(), dt = 0;
    while (dt < seconds) {
        double acc = 0;
        if (dbl)
            for (int i = 0; i < N; i++) acc += exp(xd[i]);
        else
            for (int i = 0; i < N; i++) acc += (double)expf(xf[i]);
        sink += acc;
        calls += N;
        dt = plan_cpu_seconds() - t0;
    }
    (void)sink;
    return calls / dt;
}

/* Resident bytes of this process (/proc/self/statm), 0 when unknown. */
static double plan_resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long long size = 0, res = 0;
    int ok = f && fscanf(f, "%lld %lld", &size, &res) == 2;
    if (f) fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return ok && page > 0 ? (double)res * (double)page : 0;
}

void sp_plan_cpu_calibrate(const sp_model_config *c, int64_t m_tokens, double seconds,
                           sp_plan_cpu_core *out)
{
    out->process_bytes = plan_resident_bytes();
    out->expf_rate = plan_exp_rate(0, seconds * 0.1);
    out->exp_rate = plan_exp_rate(1, seconds * 0.1);
    seconds *= 0.8;
    int64_t M = m_tokens < 64 ? 64 : (m_tokens > 1024 ? 1024 : m_tokens);
    int64_t H = c->hidden, D = c->head_dim, QKV = (c->n_heads + 2 * c->n_kv_heads) * D;
    int64_t shapes[4][2] = {{QKV, H}, {H, c->n_heads * D}, {2 * c->ffn, H}, {H, c->ffn}};
    size_t amax = 0, bmax = 0;
    for (int s = 0; s < 4; s++) {
        if ((size_t)(shapes[s][0] * shapes[s][1]) > bmax) bmax = (size_t)(shapes[s][0] * shapes[s][1]);
        if ((size_t)(M * shapes[s][1]) > amax) amax = (size_t)(M * shapes[s][1]);
    }
    float *A = calloc(amax, sizeof *A), *B = calloc(bmax, sizeof *B),
          *C = calloc((size_t)M * (size_t)(2 * c->ffn > QKV ? 2 * c->ffn : QKV) +
                          (size_t)(M * H), sizeof *C);
    SP_ASSERT(A && B && C);
    for (size_t i = 0; i < amax; i++) A[i] = (float)((i % 17) * 0.01);
    for (size_t i = 0; i < bmax; i++) B[i] = (float)((i % 13) * 0.01);
    openblas_set_num_threads(1);
    double flops = 0, t0 = plan_cpu_seconds(), dt = 0;
    for (int rep = 0; dt < seconds || rep < 2; rep++) {
        for (int s = 0; s < 4; s++) {
            int64_t N = shapes[s][0], K = shapes[s][1];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)N, (int)K, 1.0f, A,
                        (int)K, B, (int)K, 0.0f, C, (int)N);
            if (rep > 0) flops += 2.0 * (double)M * (double)N * (double)K;
        }
        if (rep == 0) t0 = plan_cpu_seconds(); /* the first pass warms caches and threads */
        dt = plan_cpu_seconds() - t0;
    }
    free(A), free(B), free(C);
    out->gflops = flops / dt * 1e-9;
}

static double plan_layer_params(const sp_model_config *c, int tp)
{
    double H = (double)c->hidden, D = (double)c->head_dim, F = (double)c->ffn;
    double qkv = (double)(c->n_heads + 2 * c->n_kv_heads) * D, od = (double)c->n_heads * D;
    return (qkv * H + H * od + 3.0 * F * H) / tp;
}

/* The engine's activation workspace for a forward call of T tokens (engine_cpu.c cpu_workspace,
 * engine_cuda.c cuda_carve_acts), per rank. */
static double plan_activations(const sp_model_config *c, double T, int tp, int gpu)
{
    double H = (double)c->hidden, D = (double)c->head_dim, F = (double)c->ffn / tp;
    double qkv = (double)(c->n_heads + 2 * c->n_kv_heads) * D / tp, od = c->n_heads * D / tp;
    double V = (double)c->vocab, C = PLAN_HEAD_CHUNK;
    if (!gpu)
        return 4.0 * (T * ((2 + (tp > 1)) * H + qkv + od + 3 * F) + C * (H + V));
    return T * (H * 4 * (1 + (tp > 1)) + H * 2 + qkv * 4 + od * 2 + 2 * F * 2 + F * 2 + 16) +
           C * (H * 6 + V * 4 + 12);
}

/* Task memory (CPU ranks hold it; on GPUs it is host memory): data and requests, and for kl the
 * dense cache (full log-probs when they fit 1 GiB, else top-256 ids + log-probs) + logits. */
static double plan_task_bytes(const sp_model_config *c, const sp_plan_workload *w)
{
    double b = (double)w->data_bytes;
    if (w->task == SP_TASK_KL) {
        double rows = (double)w->kl_cache_rows, V = (double)c->vocab;
        double full = rows * V * 4;
        b += (full <= PLAN_KL_FULL_BUDGET ? full : rows * (PLAN_KL_TOP_K * 8 + 16)) +
             (double)w->kl_max_rows * V * 4 + rows * 16;
    }
    return b;
}

void sp_plan_memory_per_rank(const sp_model_config *c, const sp_plan_workload *w,
                             const sp_plan_device *dev, int tp, sp_plan_memory *m)
{
    int gpu = dev->backend == SP_PLAN_GPU;
    double wb = gpu ? 2.0 : 4.0, H = (double)c->hidden, V = (double)c->vocab;
    const sp_plan_level *full = &w->level[w->n_levels - 1];
    memset(m, 0, sizeof *m);
    m->tp = tp;
    m->weights = (double)c->n_layers * (plan_layer_params(c, tp) * wb + 2 * H * 4);
    m->embed_head = V * H * wb * (c->tie_embeddings ? 1 : 2) + H * 4;
    int64_t T = 0;
    for (int f = 0; f < w->n_levels; f++)
        if (w->level[f].max_call > T) T = w->level[f].max_call;
    m->activations = plan_activations(c, (double)T, tp, gpu);
    if (gpu) {
        m->runtime = PLAN_CUDA_CONTEXT_BYTES + PLAN_CUBLASLT_WORKSPACE + (tp > 1 ? PLAN_NCCL_BYTES : 0);
    } else {
        int64_t n = full->max_item, qb = n < PLAN_ATTN_QBLOCK ? n : PLAN_ATTN_QBLOCK;
        m->attention = 4.0 * (double)qb * (double)n;
        m->task = plan_task_bytes(c, w);
        m->runtime = dev->process_bytes + PLAN_CPU_MPI_BYTES;
        /* The safetensors pages read while converting stay mapped (and resident). */
        double fb = c->torch_dtype[0] && strcmp(c->torch_dtype, "float32") == 0 ? 4.0 : 2.0;
        m->mapped = (m->weights / wb + m->embed_head / wb) * fb;
    }
    m->total = m->weights + m->embed_head + m->activations + m->attention + m->task + m->runtime +
               m->mapped;
    m->fits = m->total <= dev->mem_gb * 1e9;
}

void sp_plan_time_per_eval(const sp_model_config *c, const sp_plan_workload *w,
                           const sp_plan_level *lv, int kept,
                           const sp_plan_device *dev, int tp, int nvlink, int intra_node,
                           double network_gbps, sp_plan_time *t)
{
    double T = (double)lv->tokens, H = (double)c->hidden, V = (double)c->vocab;
    double peak = dev->peak_tflops * 1e12;
    double gemm = 2.0 * T * plan_layer_params(c, 1) * kept;
    double attn = 4.0 * lv->attn_pairs * (double)(c->n_heads * c->head_dim) * kept;
    double head = 2.0 * (double)lv->head_rows * H * V;
    memset(t, 0, sizeof *t);
    t->flops = gemm + attn + head;
    t->gemm_s = gemm / (peak * dev->efficiency * tp);
    t->attn_s = attn / (peak * dev->attn_efficiency * tp);
    t->head_s = head / (peak * dev->efficiency);
    if (tp > 1) {
        double link = intra_node ? (nvlink ? dev->nvlink_gbps : dev->pcie_gbps) : network_gbps;
        double lat = intra_node ? PLAN_LAT_LINK : PLAN_LAT_NET;
        /* ring all-reduce: 2 (P-1)/P of the buffer crosses each link */
        double bytes = T * H * 4.0 * 2.0 * (tp - 1) / tp;
        double calls = lv->max_call > 0 ? ceil((double)lv->tokens / (double)lv->max_call) : 1;
        t->comm_s = 2.0 * kept * (bytes / (link * 1e9) + calls * lat * 2.0 * (tp - 1));
    }
    if (dev->backend == SP_PLAN_CPU) {
        /* expf per token per kept layer: SwiGLU (F) and the softmax of every (query, key) pair
         * per head; per head row: the log-softmax (V expf), and for kl the KL sum and the
         * log-sum-exp of the pruned row (2 V double exp). */
        double expf_n = kept * ((double)lv->tokens * (double)c->ffn +
                                lv->attn_pairs * (double)c->n_heads);
        double exp_n = 0;
        if (w->task == SP_TASK_KL) exp_n = 2.0 * (double)lv->head_rows * V;
        else expf_n += (double)lv->head_rows * V;
        t->elem_s = expf_n / dev->expf_rate + exp_n / dev->exp_rate;
    }
    else {
        double calls = lv->max_call > 0 ? ceil((double)lv->tokens / (double)lv->max_call) : 1;
        t->elem_s = calls * (kept + 1) * PLAN_GPU_LAYER_LAUNCH;
    }
    t->total_s = t->gemm_s + t->attn_s + t->comm_s + t->head_s + t->elem_s;
}
