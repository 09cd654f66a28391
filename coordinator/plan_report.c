/* plan_report.c — evaluates the plan for each tensor-parallel size and prints it (text, JSON,
 * batch script); also the paper's setting for comparison (see plan_report.h). */
#include "plan_report.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"

/* The paper's setting (Ratsapa et al. 2025): Llama-3.1-70B (tests/data/llama-3.1-70b-config.json)
 * scored on the full HellaSwag validation set (10,042 items), budget 550 candidates per k, on
 * 2 x A100-80 and 8 x H100-80. The workload was counted once by this planner on
 * ../shared/data/hellaswag/hellaswag_val_full.txt with the real Llama-3.1 tokenizer (BOS on),
 * batched as the evaluator does; tests/cli_plan.sh recounts it when ../shared is there. */
static const sp_model_config *plan_paper_config(void)
{
    static sp_model_config c;
    memset(&c, 0, sizeof c);
    c.hidden = 8192, c.n_layers = 80, c.n_heads = 64, c.n_kv_heads = 8, c.head_dim = 128;
    c.ffn = 28672, c.vocab = 128256, c.max_pos = 131072, c.tie_embeddings = 0;
    snprintf(c.torch_dtype, sizeof c.torch_dtype, "bfloat16");
    return &c;
}
#define PAPER_ITEMS 10042
#define PAPER_TOKENS 1632751        /* tokens through the layers per evaluation */
#define PAPER_ATTN_PAIRS 97495434.0 /* causal (query, key) pairs per evaluation */
#define PAPER_HEAD_ROWS 1168283     /* continuation tokens scored */
#define PAPER_MAX_CALL 4096
#define PAPER_MAX_ITEM 138
#define PAPER_BUDGET 550
/* The seed code wrote a pruned 140 GB checkpoint per candidate, reloaded it and scored the
 * lm-eval way on 2 x A100: 17-51 min per candidate (950-3,050 s; ../shared/DESIGN.md). */
#define PAPER_SEED_S_LO 950.0
#define PAPER_SEED_S_HI 3050.0

static int plan_pop(const sp_job *job, int prunable)
{
    const sp_search_params *p = &job->search;
    switch (p->kind) {
    case SP_ALG_PSO:
    case SP_ALG_BPSO: return p->pso.swarm + p->pso.local_search;
    case SP_ALG_WOA: return p->woa.whales + p->woa.local_search;
    case SP_ALG_EVO: return p->evo.lambda;
    case SP_ALG_RANDOM:
    case SP_ALG_EXHAUSTIVE: return p->enumeration.batch;
    default: return prunable;
    }
}

static int plan_prunable(const sp_job *job, int64_t L)
{
    int n = 0;
    for (int64_t l = 0; l < L; l++) {
        int prot = job->has_protected ? sp_mask_test(&job->protected_layers, (int)l)
                                      : (l == 0 || l == L - 1);
        n += !prot;
    }
    return n;
}

/* Ranks and worker groups of tp for the allocation; 0 groups when tp cannot be placed. */
static int plan_groups(const plan_setting *s, int tp, int *intra_node, int *ranks)
{
    if (s->dev.backend == SP_PLAN_CPU) {
        int per_node = s->cores / s->threads > 0 ? s->cores / s->threads : 1;
        *ranks = per_node * s->nodes;
        *intra_node = tp <= per_node;
        int workers = *ranks > 1 ? *ranks - 1 : 1;
        return workers / tp;
    }
    *ranks = s->nodes * s->gpn + 1; /* one GPU per worker rank + the coordinator */
    *intra_node = tp <= s->gpn;
    if (*intra_node) return s->nodes * (s->gpn / tp);
    return tp % s->gpn == 0 ? s->nodes * s->gpn / tp : 0;
}

static void plan_row_eval(const plan_setting *s, const plan_result *r, int tp, plan_row *row)
{
    const sp_model_config *c = &s->cfg;
    const sp_job *job = s->job;
    int ranks;
    row->tp = tp;
    row->groups = plan_groups(s, tp, &row->intra_node, &ranks);
    sp_plan_memory_per_rank(c, &s->work, &s->dev, tp, &row->mem);
    double cap = s->dev.mem_gb * 1e9;
    if (s->dev.backend == SP_PLAN_CPU) cap /= ranks / s->nodes > 0 ? ranks / s->nodes : 1;
    row->feasible = row->groups > 0 && row->mem.total <= cap;
    if (row->groups == 0)
        snprintf(row->why, sizeof row->why, "%d ranks per group cannot be placed on %d node(s) "
                 "x %d", tp, s->nodes, s->dev.backend == SP_PLAN_CPU ? s->cores : s->gpn);
    else if (!row->feasible)
        snprintf(row->why, sizeof row->why, "needs %.2f GB per rank, %.2f GB available",
                 row->mem.total * 1e-9, cap * 1e-9);
    for (int i = 0; i < job->n_k; i++) {
        int kept = (int)c->n_layers - job->k[i];
        sp_plan_time_per_eval(c, &s->work, &s->work.level[s->work.n_levels - 1], kept, &s->dev, tp,
                              s->nvlink, row->intra_node, s->net_gbps / 8.0, &row->full[i]);
        double t = row->full[i].total_s;
        if (s->dev.backend == SP_PLAN_CPU) t /= s->threads;
        row->s_per_eval[i] = t * r->mix;
        int g = row->groups > 0 ? row->groups : 1;
        row->cand_per_hour[i] = 3600.0 * g / row->s_per_eval[i];
        row->wall_s[i] = r->startup_s + (double)job->budget * row->s_per_eval[i] / g;
    }
}

int sp_plan_evaluate(const plan_setting *s, plan_result *r, sp_error *err)
{
    const sp_model_config *c = &s->cfg;
    const sp_job *job = s->job;
    memset(r, 0, sizeof *r);
    int prunable = plan_prunable(job, c->n_layers);
    r->pop = plan_pop(job, prunable);
    r->mix = sp_plan_eval_mix(&s->work, job->n_fidelities > 1 && job->search.kind != SP_ALG_EVO,
                              r->pop, 2, r->mix_w);
    if (job->task.kind == SP_TASK_KL) { /* the dense model over every level's data, once */
        sp_plan_time t;
        for (int f = 0; f < s->work.n_levels; f++) {
            sp_plan_time_per_eval(c, &s->work, &s->work.level[f], (int)c->n_layers, &s->dev, 1, 1, 1, 1, &t);
            r->startup_s += t.total_s / (s->dev.backend == SP_PLAN_CPU ? s->threads : 1);
        }
    }
    r->best = -1;
    for (int tp = 1; tp <= 2048 && r->n_rows < SP_PLAN_MAX_TP; tp *= 2) {
        if (c->n_heads % tp || c->n_kv_heads % tp) break;
        r->largest_tp = tp;
        if (s->only_tp && tp != s->only_tp) continue;
        plan_row *row = &r->rows[r->n_rows++];
        plan_row_eval(s, r, tp, row);
        if (row->feasible && (r->best < 0 || row->wall_s[0] < r->rows[r->best].wall_s[0] * 0.999))
            r->best = r->n_rows - 1;
    }
    if (s->only_tp && r->n_rows == 0)
        return sp_error_set(err, "--tp %d: must be a power of two dividing the %lld heads and "
                            "%lld KV heads (largest: %d)", s->only_tp, (long long)c->n_heads,
                            (long long)c->n_kv_heads, r->largest_tp);
    r->any_feasible = r->best >= 0;
    if (r->any_feasible)
        for (int i = 0; i < job->n_k; i++) r->total_wall_s += r->rows[r->best].wall_s[i];
    plan_groups(s, 1, &(int){0}, &r->ranks);
    return 0;
}

static const char *plan_hms(double s, char *buf, size_t n)
{
    if (!isfinite(s)) snprintf(buf, n, "-");
    else if (s < 120) snprintf(buf, n, "%.1f s", s);
    else if (s < 7200) snprintf(buf, n, "%.1f min", s / 60);
    else if (s < 172800) snprintf(buf, n, "%.1f h", s / 3600);
    else snprintf(buf, n, "%.1f d", s / 86400);
    return buf;
}

static void plan_print_memory(const plan_setting *s, const plan_result *r)
{
    int cpu = s->dev.backend == SP_PLAN_CPU;
    printf("\nmemory per rank, GB (%s weights; largest tp dividing %lld heads and %lld KV heads: "
           "%d):\n", cpu ? "fp32" : "bf16", (long long)s->cfg.n_heads,
           (long long)s->cfg.n_kv_heads, r->largest_tp);
    if (cpu)
        printf("  %-4s %9s %9s %9s %9s %9s %9s %9s\n", "tp", "layers", "emb+head", "activ.",
               "task", "mapped", "process", "total");
    else
        printf("  %-4s %9s %9s %9s %9s %9s\n", "tp", "layers", "emb+head", "activ.", "runtime",
               "total");
    for (int i = 0; i < r->n_rows; i++) {
        const plan_row *w = &r->rows[i];
        const sp_plan_memory *m = &w->mem;
        if (cpu)
            printf("  %-4d %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f  %s\n", w->tp, m->weights * 1e-9,
                   m->embed_head * 1e-9, (m->activations + m->attention) * 1e-9, m->task * 1e-9,
                   m->mapped * 1e-9, m->runtime * 1e-9, m->total * 1e-9,
                   w->feasible ? "fits" : w->why);
        else
            printf("  %-4d %9.2f %9.2f %9.2f %9.2f %9.2f  %s\n", w->tp, m->weights * 1e-9,
                   m->embed_head * 1e-9, m->activations * 1e-9, m->runtime * 1e-9,
                   m->total * 1e-9, w->feasible ? "fits" : w->why);
    }
}

static void plan_print_time(const plan_setting *s, const plan_result *r)
{
    const sp_job *job = s->job;
    char b1[32], b2[32];
    for (int i = 0; i < job->n_k; i++) {
        printf("\nk = %d (%lld of %lld layers kept), budget %lld evaluations:\n", job->k[i],
               (long long)(s->cfg.n_layers - job->k[i]), (long long)s->cfg.n_layers,
               (long long)job->budget);
        printf("  %-4s %6s %10s %10s %10s %10s %10s %11s %12s %12s\n", "tp", "groups", "GEMM s",
               "attn s", "comm s", "head s", s->dev.backend == SP_PLAN_CPU ? "elem s" : "launch s",
               "s/cand", "cand/hour", "wall");
        for (int j = 0; j < r->n_rows; j++) {
            const plan_row *w = &r->rows[j];
            const sp_plan_time *t = &w->full[i];
            printf("  %-4d %6d %10.4f %10.4f %10.4f %10.4f %10.4f %11.4f %12.0f %12s%s\n", w->tp,
                   w->groups, t->gemm_s, t->attn_s, t->comm_s, t->head_s, t->elem_s,
                   w->s_per_eval[i], w->cand_per_hour[i], plan_hms(w->wall_s[i], b1, sizeof b1),
                   w->groups == 0 ? "  (cannot be placed)" : !w->feasible ? "  (does not fit)"
                   : j == r->best ? "  <- recommended" : "");
        }
    }
    if (r->any_feasible)
        printf("\nrecommended: tp %d, %d worker group(s), %d MPI ranks; whole job %s\n",
               r->rows[r->best].tp, r->rows[r->best].groups,
               s->dev.backend == SP_PLAN_CPU ? r->ranks
                                             : s->nodes * s->gpn + 1,
               plan_hms(r->total_wall_s, b2, sizeof b2));
    else
        printf("\nno tensor-parallel size fits this allocation (see the memory table)\n");
}

/* The paper's setting with the same model of cost, on its two allocations. */
static void plan_print_paper(void)
{
    sp_plan_workload w;
    memset(&w, 0, sizeof w);
    w.task = SP_TASK_HELLASWAG, w.n_levels = 1, w.bos = 128000;
    w.level[0] = (sp_plan_level){PAPER_ITEMS, PAPER_TOKENS, PAPER_ATTN_PAIRS, PAPER_HEAD_ROWS,
                                 PAPER_MAX_CALL, PAPER_MAX_ITEM};
    const sp_model_config *c = plan_paper_config();
    static const struct { const char *dev; int gpus, tp; } alloc[] = {
        {"a100-80", 2, 2}, {"h100-80", 8, 2}, {"h100-80", 8, 4}, {"h100-80", 8, 8}};
    static const int ks[] = {10, 20, 30, 40};
    char b[32];
    printf("\nthe paper's setting for comparison: Llama-3.1-70B, full HellaSwag (%d items, %d "
           "tokens through the layers per candidate), budget %d per k:\n", PAPER_ITEMS,
           PAPER_TOKENS, PAPER_BUDGET);
    printf("  %-16s %-4s %6s %9s", "allocation", "tp", "groups", "GB/rank");
    for (int i = 0; i < 4; i++) printf("   k=%-2d s/cand  wall   ", ks[i]);
    printf("\n");
    for (size_t a = 0; a < sizeof alloc / sizeof alloc[0]; a++) {
        sp_plan_device d;
        sp_error err = {{0}};
        SP_ASSERT(sp_plan_device_parse(alloc[a].dev, &d, &err) == 0);
        sp_plan_memory m;
        sp_plan_memory_per_rank(c, &w, &d, alloc[a].tp, &m);
        int groups = alloc[a].gpus / alloc[a].tp;
        printf("  %d x %-10s %-4d %6d %9.1f", alloc[a].gpus, alloc[a].dev, alloc[a].tp, groups,
               m.total * 1e-9);
        for (int i = 0; i < 4; i++) {
            sp_plan_time t;
            sp_plan_time_per_eval(c, &w, &w.level[0], 80 - ks[i], &d, alloc[a].tp, 1, 1, 25, &t);
            printf("   %11.1f %8s ", t.total_s, plan_hms(PAPER_BUDGET * t.total_s / groups, b,
                                                          sizeof b));
        }
        printf("%s\n", m.total <= d.mem_gb * 1e9 ? "" : "  (does not fit)");
    }
    printf("  seed code of the paper (2 x A100, checkpoint rewritten per candidate): %.0f-%.0f s "
           "per candidate, %s-%s per k\n", PAPER_SEED_S_LO, PAPER_SEED_S_HI,
           plan_hms(PAPER_BUDGET * PAPER_SEED_S_LO, b, sizeof b),
           plan_hms(PAPER_BUDGET * PAPER_SEED_S_HI, (char[32]){0}, 32));
}

void sp_plan_print_text(const plan_setting *s, const plan_result *r)
{
    const sp_job *job = s->job;
    const sp_plan_level *full = &s->work.level[s->work.n_levels - 1];
    printf("swarmprune plan: %s — %lld layers, hidden %lld, FFN %lld, %lld/%lld heads, vocab "
           "%lld\n", job->name, (long long)s->cfg.n_layers, (long long)s->cfg.hidden,
           (long long)s->cfg.ffn, (long long)s->cfg.n_heads, (long long)s->cfg.n_kv_heads,
           (long long)s->cfg.vocab);
    printf("task %s on %s: %lld units, %lld tokens through the layers per full evaluation, %lld "
           "head rows, longest item %lld, largest forward call %lld tokens%s\n",
           sp_task_kind_name(job->task.kind), job->task.path, (long long)full->units,
           (long long)full->tokens, (long long)full->head_rows, (long long)full->max_item,
           (long long)full->max_call, s->work.bos >= 0 ? " (BOS included)" : "");
    if (s->work.n_levels > 1)
        printf("fidelities: successive halving over %d levels with %d candidates per "
               "generation: a mean evaluation costs %.3f of a full one\n", s->work.n_levels,
               r->pop, r->mix);
    if (s->dev.backend == SP_PLAN_CPU)
        printf("machine: CPU engine, %d node(s) x %d cores, %d BLAS thread(s) per worker rank, "
               "%.1f GFLOP/s per core (sgemm), %.1f GB per node\n", s->nodes, s->cores,
               s->threads, s->dev.peak_tflops * 1e3, s->dev.mem_gb);
    else
        printf("machine: %d node(s) x %d %s (%.0f GB, %.0f TFLOP/s bf16 dense, efficiency %.2f; "
               "%s %.0f GB/s inside a node, %.0f Gbit/s between nodes)\n  figures: %s\n",
               s->nodes, s->gpn, s->dev.name, s->dev.mem_gb, s->dev.peak_tflops,
               s->dev.efficiency, s->nvlink ? "NVLink" : "PCIe",
               s->nvlink ? s->dev.nvlink_gbps : s->dev.pcie_gbps, s->net_gbps, s->dev.source);
    if (r->startup_s > 0)
        printf("startup: the dense model's distributions (kl), %.1f s\n", r->startup_s);
    plan_print_memory(s, r);
    plan_print_time(s, r);
    plan_print_paper();
}

void sp_plan_print_json(const plan_setting *s, const plan_result *r)
{
    const sp_job *job = s->job;
    const sp_plan_level *full = &s->work.level[s->work.n_levels - 1];
    cJSON *o = cJSON_CreateObject(), *rows = cJSON_AddArrayToObject(o, "tp");
    cJSON_AddStringToObject(o, "job", job->name);
    cJSON_AddStringToObject(o, "device", s->dev.name);
    cJSON_AddNumberToObject(o, "peak_tflops", s->dev.peak_tflops);
    cJSON_AddNumberToObject(o, "tokens_per_eval", (double)full->tokens);
    cJSON_AddNumberToObject(o, "head_rows_per_eval", (double)full->head_rows);
    cJSON_AddNumberToObject(o, "attn_pairs_per_eval", full->attn_pairs);
    cJSON_AddNumberToObject(o, "max_call_tokens", (double)full->max_call);
    cJSON_AddNumberToObject(o, "max_item_tokens", (double)full->max_item);
    cJSON_AddNumberToObject(o, "units", (double)full->units);
    cJSON_AddNumberToObject(o, "eval_cost_mix", r->mix);
    cJSON_AddNumberToObject(o, "startup_s", r->startup_s);
    cJSON_AddNumberToObject(o, "largest_tp", r->largest_tp);
    cJSON_AddNumberToObject(o, "recommended_tp", r->any_feasible ? r->rows[r->best].tp : 0);
    cJSON_AddNumberToObject(o, "total_wall_s", r->total_wall_s);
    cJSON *paper = cJSON_AddObjectToObject(o, "paper"); /* the built-in counts (plan_report.c) */
    cJSON_AddNumberToObject(paper, "tokens_per_eval", PAPER_TOKENS);
    cJSON_AddNumberToObject(paper, "head_rows_per_eval", PAPER_HEAD_ROWS);
    cJSON_AddNumberToObject(paper, "attn_pairs_per_eval", PAPER_ATTN_PAIRS);
    cJSON_AddNumberToObject(paper, "max_item_tokens", PAPER_MAX_ITEM);
    for (int i = 0; i < r->n_rows; i++) {
        const plan_row *w = &r->rows[i];
        cJSON *x = cJSON_CreateObject(), *ks = cJSON_AddArrayToObject(x, "k");
        cJSON_AddNumberToObject(x, "tp", w->tp);
        cJSON_AddNumberToObject(x, "groups", w->groups);
        cJSON_AddBoolToObject(x, "feasible", w->feasible);
        cJSON_AddNumberToObject(x, "bytes_per_rank", w->mem.total);
        cJSON_AddNumberToObject(x, "bytes_weights", w->mem.weights + w->mem.embed_head);
        for (int k = 0; k < job->n_k; k++) {
            cJSON *y = cJSON_CreateObject();
            cJSON_AddNumberToObject(y, "k", job->k[k]);
            cJSON_AddNumberToObject(y, "s_per_full_eval", w->full[k].total_s /
                                    (s->dev.backend == SP_PLAN_CPU ? s->threads : 1));
            cJSON_AddNumberToObject(y, "s_per_eval", w->s_per_eval[k]);
            cJSON_AddNumberToObject(y, "candidates_per_hour", w->cand_per_hour[k]);
            cJSON_AddNumberToObject(y, "wall_s", w->wall_s[k]);
            cJSON_AddNumberToObject(y, "flops_per_full_eval", w->full[k].flops);
            cJSON_AddItemToArray(ks, y);
        }
        cJSON_AddItemToArray(rows, x);
    }
    char *txt = cJSON_PrintUnformatted(o);
    printf("%s\n", txt);
    free(txt);
    cJSON_Delete(o);
}

int sp_plan_write_sbatch(const plan_setting *s, const plan_result *r, const char *file,
                         sp_error *err)
{
    const plan_row *w = &r->rows[r->best];
    char home[4096], job[4096];
    if (!realpath(s->job->file, job))
        return sp_error_set(err, "%s: cannot resolve the job's path", s->job->file);
    /* This binary's repository: slurm/search.sbatch lives beside its build directory. */
    ssize_t n = readlink("/proc/self/exe", home, sizeof home - 1);
    if (n <= 0) return sp_error_set(err, "cannot find the swarmprune binary (/proc/self/exe)");
    home[n] = '\0';
    char bin[4096];
    snprintf(bin, sizeof bin, "%s", home);
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(home, '/');
        if (slash) *slash = '\0';
    }
    if (strchr(home, '\'') || strchr(job, '\''))
        return sp_error_set(err, "--emit-sbatch: the paths %s and %s must not hold a quote", home,
                            job);
    int cpu = s->dev.backend == SP_PLAN_CPU;
    int ntasks = cpu ? 1 + w->groups * w->tp : s->nodes * s->gpn + 1;
    double limit = r->total_wall_s * 1.25 + 900;
    long minutes = (long)ceil(limit / 60);
    char *text = NULL;
    size_t cap = 0;
    FILE *f = open_memstream(&text, &cap);
    fprintf(f, "#!/bin/bash\n# written by swarmprune plan for %s: tp %d, %d worker group(s), "
               "projected %.0f s (limit = 1.25 x + 15 min)\n", s->job->name, w->tp, w->groups,
            r->total_wall_s);
    fprintf(f, "#SBATCH --job-name=%s\n#SBATCH --nodes=%d\n#SBATCH --ntasks=%d\n", s->job->name,
            s->nodes, ntasks);
    if (!cpu) fprintf(f, "#SBATCH --gpus-per-node=%d\n", s->gpn);
    fprintf(f, "#SBATCH --cpus-per-task=%d\n", cpu ? s->threads : 4);
    if (cpu && ntasks > s->nodes * s->cores) fprintf(f, "#SBATCH --overcommit\n");
    fprintf(f, "#SBATCH --time=%ld:%02ld:00\n#SBATCH --requeue\n#SBATCH --signal=B:USR1@300\n"
               "#SBATCH --open-mode=append\n#SBATCH --output=swarmprune-%%x-%%j.out\n", minutes / 60,
            minutes % 60);
    fprintf(f, "export SP_HOME='%s' SP_BIN='%s' TP=%d\nexec bash \"$SP_HOME/slurm/search.sbatch\" "
               "'%s'\n", home, bin, w->tp, job);
    fclose(f);
    int rc = sp_write_text_atomic(file, text, err);
    free(text);
    if (rc == 0) fprintf(stderr, "plan: wrote %s (submit with: sbatch %s)\n", file, file);
    return rc;
}
