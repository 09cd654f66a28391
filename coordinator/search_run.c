/* search_run.c — the coordinator's search loop, checkpoints and resume (see search_run.h). */
#include "search_run.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "common/checkpoint.h"
#include "common/fs.h"
#include "common/json_util.h"
#include "common/cli.h"
#include "common/signals.h"
#include "coordinator/search_driver.h"
#include "coordinator/warm_path.h"
#include "coordinator/job_fitness.h"
#include "worker/evaluator.h"

/* One k's search. Per-evaluation extras (metrics, wall time, worker) run parallel to the
 * driver's history. `gen_*` collects every result of the generation in progress: when a stop
 * signal interrupts it, they are saved as "pending" results, served again on resume without
 * re-scoring, so no evaluation is lost or duplicated. */
typedef struct {
    const sp_job *job;
    const sp_model *model;
    sp_sched *sched;
    int k;
    char ckpt_path[4096];
    char dir[4096];
    sp_search_driver driver;
    double *metrics;   /* [E x M] */
    double *wall;      /* [E] seconds since the search started */
    int64_t *worker;   /* [E] */
    size_t n, cap;
    sp_candidate *pend;        /* pending results (from an interrupted generation) */
    double *pend_metrics;      /* [n_pend x M] */
    int64_t *pend_worker;
    size_t n_pend, cap_pend;
    size_t n_pend_loaded;      /* pending entries that came from the checkpoint */
    sp_state snapshot;         /* consistent state after the last complete generation */
    double elapsed0;           /* wall seconds of earlier runs (resume) */
    double t0;
    double total_bytes;
    size_t snap_n;             /* evaluations in the snapshot */
    int stopped;
    const sp_ckpt_lock *lock;  /* checked before each checkpoint write (taken over = stop) */
} run_ctx;

static double now_elapsed(const run_ctx *r) { return r->elapsed0 + (sp_now() - r->t0); }

void sp_search_checkpoint_path(const sp_job *job, int ki, char *buf, size_t size)
{
    if (job->n_k == 1) {
        snprintf(buf, size, "%s", job->checkpoint);
        return;
    }
    size_t n = strlen(job->checkpoint);
    if (n > 3 && strcmp(job->checkpoint + n - 3, ".h5") == 0)
        snprintf(buf, size, "%.*s.k%d.h5", (int)(n - 3), job->checkpoint, job->k[ki]);
    else snprintf(buf, size, "%s.k%d", job->checkpoint, job->k[ki]);
}

/* ---- metrics -> fitness -------------------------------------------------------------------- */

static double removed_fraction(const run_ctx *r, const sp_mask *m)
{
    return sp_job_removed_fraction(r->model, m);
}

static int fitness_of(const run_ctx *r, const sp_mask *m, const double *met, double *fit,
                      sp_error *err)
{
    return sp_job_fitness(r->job, r->model, m, met, fit, err);
}

/* ---- the batch objective --------------------------------------------------------------- */

static void push_pending(run_ctx *r, const sp_candidate *c, const double *met, int64_t worker)
{
    if (r->n_pend == r->cap_pend) {
        r->cap_pend = r->cap_pend ? 2 * r->cap_pend : 64;
        r->pend = sp_xrealloc(r->pend, r->cap_pend * sizeof *r->pend);
        r->pend_metrics = sp_xrealloc(r->pend_metrics,
                                      r->cap_pend * SP_METRIC_COUNT * sizeof(double));
        r->pend_worker = sp_xrealloc(r->pend_worker, r->cap_pend * sizeof(int64_t));
    }
    r->pend[r->n_pend] = *c;
    memcpy(r->pend_metrics + r->n_pend * SP_METRIC_COUNT, met, SP_METRIC_COUNT * sizeof(double));
    r->pend_worker[r->n_pend] = worker;
    r->n_pend++;
}

static long find_pending(const run_ctx *r, const sp_candidate *c)
{
    for (size_t i = 0; i < r->n_pend; i++)
        if (r->pend[i].fidelity == c->fidelity && sp_mask_equal(&r->pend[i].mask, &c->mask))
            return (long)i;
    return -1;
}

static void push_record(run_ctx *r, const double *met, int64_t worker)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 256;
        r->metrics = sp_xrealloc(r->metrics, r->cap * SP_METRIC_COUNT * sizeof(double));
        r->wall = sp_xrealloc(r->wall, r->cap * sizeof(double));
        r->worker = sp_xrealloc(r->worker, r->cap * sizeof(int64_t));
    }
    memcpy(r->metrics + r->n * SP_METRIC_COUNT, met, SP_METRIC_COUNT * sizeof(double));
    r->wall[r->n] = now_elapsed(r);
    r->worker[r->n] = worker;
    r->n++;
}

static int eval_batch(void *ctx, const sp_candidate *cands, int n, double *fitness, sp_error *err)
{
    run_ctx *r = ctx;
    double *met = sp_xmalloc((size_t)n * SP_METRIC_COUNT * sizeof *met);
    int *worker = sp_xmalloc((size_t)n * sizeof *worker), *done = sp_xcalloc((size_t)n, sizeof *done);
    sp_candidate *todo = sp_xmalloc((size_t)n * sizeof *todo);
    int *todo_idx = sp_xmalloc((size_t)n * sizeof *todo_idx), n_todo = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        long p = find_pending(r, &cands[i]);
        if (p >= 0) {
            memcpy(met + (size_t)i * SP_METRIC_COUNT, r->pend_metrics + p * SP_METRIC_COUNT,
                   SP_METRIC_COUNT * sizeof(double));
            worker[i] = (int)r->pend_worker[p];
            done[i] = 1;
        } else {
            todo[n_todo] = cands[i];
            todo_idx[n_todo++] = i;
        }
    }
    if (n_todo > 0) {
        double *tm = sp_xmalloc((size_t)n_todo * SP_METRIC_COUNT * sizeof *tm);
        int *tw = sp_xmalloc((size_t)n_todo * sizeof *tw), *td = sp_xmalloc((size_t)n_todo * sizeof *td);
        rc = sp_sched_evaluate(r->sched, todo, n_todo, tm, tw, td, err);
        for (int j = 0; j < n_todo; j++)
            if (td[j]) {
                int i = todo_idx[j];
                memcpy(met + (size_t)i * SP_METRIC_COUNT, tm + (size_t)j * SP_METRIC_COUNT,
                       SP_METRIC_COUNT * sizeof(double));
                worker[i] = tw[j];
                done[i] = 1;
                if (find_pending(r, &cands[i]) < 0) push_pending(r, &cands[i], tm + (size_t)j * SP_METRIC_COUNT, tw[j]);
            }
        free(tm);
        free(tw);
        free(td);
    }
    if (rc == SP_SCHED_STOPPED) {
        r->stopped = 1;
        rc = sp_error_set(err, "stopped by signal %d", sp_signal_pending());
    }
    for (int i = 0; i < n && rc == 0; i++) {
        const double *m = met + (size_t)i * SP_METRIC_COUNT;
        rc = fitness_of(r, &cands[i].mask, m, &fitness[i], err);
        if (rc > 0) { /* infeasible (a NaN metric): worst fitness, named, and the search goes on */
            char mb[1024];
            fprintf(stderr, "swarmprune search: warning: [%s k=%d] candidate removing {%s}: %s: "
                    "recorded as infeasible (fitness +inf)\n", r->job->name, r->k,
                    sp_mask_format(&cands[i].mask, mb, sizeof mb), err->msg);
            err->msg[0] = '\0';
            rc = 0;
        }
        if (rc == 0) push_record(r, m, worker[i]);
    }
    free(met);
    free(worker);
    free(done);
    free(todo);
    free(todo_idx);
    return rc ? -1 : 0;
}

/* ---- state: snapshot, checkpoint, resume ------------------------------------------------ */

static int save_run_arrays(const run_ctx *r, sp_state *st, sp_error *err)
{
    double elapsed = now_elapsed(r);
    return sp_state_put_f64(st, "run/metrics", r->n, SP_METRIC_COUNT, r->metrics, err) ||
                   sp_state_put_f64(st, "run/wall", r->n, 0, r->wall, err) ||
                   sp_state_put_i64(st, "run/worker", r->n, 0, r->worker, err) ||
                   sp_state_put_f64(st, "run/elapsed", 1, 0, &elapsed, err)
               ? -1
               : 0;
}

/* Snapshot of a consistent state: taken after each complete generation. */
static int take_snapshot(run_ctx *r, sp_error *err)
{
    sp_state_free(&r->snapshot);
    sp_state_init(&r->snapshot);
    SP_ASSERT(r->n == r->driver.n_history);
    r->snap_n = r->n;
    return sp_search_driver_save(&r->driver, &r->snapshot, err) ||
                   save_run_arrays(r, &r->snapshot, err)
               ? -1
               : 0;
}

static int copy_state(const sp_state *from, sp_state *to, sp_error *err)
{
    for (size_t i = 0; i < from->n; i++) {
        const sp_state_entry *e = &from->entries[i];
        if (sp_state_put(to, e->name, e->type, e->ndim, e->dims, e->data, err)) return -1;
    }
    return 0;
}

static int add_pending(const run_ctx *r, sp_state *st, sp_error *err)
{
    size_t n = r->n_pend;
    int64_t *masks = sp_xmalloc((n * SP_MASK_WORDS + 1) * sizeof *masks);
    int64_t *fid = sp_xmalloc((n + 1) * sizeof *fid);
    for (size_t i = 0; i < n; i++) {
        sp_search_masks_to_i64(&r->pend[i].mask, 1, masks + i * SP_MASK_WORDS);
        fid[i] = r->pend[i].fidelity;
    }
    int rc = sp_state_put_i64(st, "pending/masks", n, SP_MASK_WORDS, masks, err) ||
             sp_state_put_i64(st, "pending/fidelity", n, 0, fid, err) ||
             sp_state_put_f64(st, "pending/metrics", n, SP_METRIC_COUNT, r->pend_metrics, err) ||
             sp_state_put_i64(st, "pending/worker", n, 0, r->pend_worker, err);
    free(masks);
    free(fid);
    return rc ? -1 : 0;
}

/* Human-readable views of the snapshot for h5dump / inspect / report. */
static void fill_views(const run_ctx *r, sp_ckpt *c)
{
    const sp_search_driver *d = &r->driver;
    size_t E = r->snap_n, L = (size_t)d->problem.n_layers; /* the snapshot's prefix */
    double best = INFINITY;
    for (size_t i = 0; i < E; i++) {
        const sp_eval_record *h = &d->history[i];
        sp_ckpt_history_append(&c->history, &h->mask, h->fidelity, h->generation, h->fitness,
                               r->metrics + i * SP_METRIC_COUNT, r->wall[i], r->worker[i]);
        if (h->best_so_far < best) { /* record i is the new best (see record_eval) */
            best = h->best_so_far;
            sp_ckpt_best_append(&c->best, (int64_t)i + 1, best, &h->mask);
        }
    }
    double *row = sp_xmalloc(L * sizeof *row);
    for (int64_t g = 0; g < d->generation; g++) {
        for (size_t l = 0; l < L; l++)
            row[l] = d->pop_sizes[g] ? (double)d->pop_counts[g * L + l] / (double)d->pop_sizes[g] : 0;
        sp_ckpt_freq_append(&c->freq, row);
    }
    for (size_t l = 0; l < L; l++) {
        int64_t cnt = 0;
        for (size_t i = 0; i < E; i++) cnt += sp_mask_test(&d->history[i].mask, (int)l);
        c->freq.overall[l] = E ? (double)cnt / (double)E : 0;
    }
    free(row);
}

static int write_checkpoint(run_ctx *r, const char *path, sp_ckpt_status status, sp_error *err)
{
    if (sp_ckpt_lock_check(r->lock, err)) return -1;
    sp_ckpt c;
    sp_ckpt_init(&c, (int)r->model->cfg.n_layers, SP_METRIC_COUNT, sp_metric_names);
    sp_ckpt_set_job(&c, r->job->name, r->job->text);
    sp_ckpt_job_hash(r->job->compat, c.job_hash); /* budget excluded: it may grow on resume */
    char fp[17];
    sp_model_fingerprint(r->model, fp);
    sp_ckpt_set_model(&c, fp);
    sp_ckpt_set_algorithm(&c, sp_alg_kind_name(r->job->search.kind));
    c.status = status;
    c.iteration = r->driver.generation;
    c.minimize = 1;
    int rc = copy_state(&r->snapshot, &c.state, err);
    if (rc == 0) rc = add_pending(r, &c.state, err);
    if (rc == 0) fill_views(r, &c);
    if (rc == 0) rc = sp_ckpt_write(path, &c, err);
    sp_ckpt_free(&c);
    return rc;
}

static int load_run_arrays(run_ctx *r, const sp_state *st, sp_error *err)
{
    const sp_state_entry *m, *w, *k, *el;
    if (sp_state_get_any(st, "run/metrics", SP_STATE_F64, 2, &m, err) ||
        sp_state_get_any(st, "run/wall", SP_STATE_F64, 1, &w, err) ||
        sp_state_get_any(st, "run/worker", SP_STATE_I64, 1, &k, err) ||
        sp_state_get_any(st, "run/elapsed", SP_STATE_F64, 1, &el, err))
        return -1;
    size_t n = m->dims[0];
    if (m->dims[1] != SP_METRIC_COUNT || w->dims[0] != n || k->dims[0] != n ||
        n != r->driver.n_history)
        return sp_error_set(err, "state: run/* arrays disagree with the history (%zu vs %zu)", n,
                            r->driver.n_history);
    for (size_t i = 0; i < n; i++) push_record(r, (double *)m->data + i * SP_METRIC_COUNT, 0);
    memcpy(r->wall, w->data, n * sizeof(double));
    memcpy(r->worker, k->data, n * sizeof(int64_t));
    r->elapsed0 = el->count ? *(double *)el->data : 0;
    return 0;
}

static int load_pending(run_ctx *r, const sp_state *st, sp_error *err)
{
    const sp_state_entry *m, *f, *x, *w;
    if (sp_state_get_any(st, "pending/masks", SP_STATE_I64, 2, &m, err) ||
        sp_state_get_any(st, "pending/fidelity", SP_STATE_I64, 1, &f, err) ||
        sp_state_get_any(st, "pending/metrics", SP_STATE_F64, 2, &x, err) ||
        sp_state_get_any(st, "pending/worker", SP_STATE_I64, 1, &w, err))
        return -1;
    size_t n = f->dims[0];
    if (m->dims[0] != n || x->dims[0] != n || w->dims[0] != n)
        return sp_error_set(err, "state: pending/* arrays disagree");
    for (size_t i = 0; i < n; i++) {
        sp_candidate c;
        sp_search_masks_from_i64((const int64_t *)m->data + i * SP_MASK_WORDS, 1, &c.mask);
        c.fidelity = (int)((const int64_t *)f->data)[i];
        push_pending(r, &c, (const double *)x->data + i * SP_METRIC_COUNT,
                     ((const int64_t *)w->data)[i]);
    }
    r->n_pend_loaded = n;
    return 0;
}

/* 1 = resumed, 0 = no checkpoint (fresh start), -1 = refused. */
static int try_resume(run_ctx *r, sp_error *err)
{
    struct stat sb;
    if (stat(r->ckpt_path, &sb) != 0) return 0;
    char fp[17], jh[17];
    sp_model_fingerprint(r->model, fp);
    sp_ckpt_job_hash(r->job->compat, jh);
    sp_ckpt c;
    int rc = sp_ckpt_read(r->ckpt_path, jh, fp, &c, err);
    if (rc && (strstr(err->msg, "different job") || strstr(err->msg, "different model"))) {
        size_t len = strlen(err->msg);
        snprintf(err->msg + len, sizeof err->msg - len, " (run with --fresh to start this job "
                 "over there, or give it another output directory)");
    }
    if (rc == 0 && (rc = sp_search_driver_load(&r->driver, &c.state, err)) != 0)
        sp_error_wrap(err, "%s: cannot resume", r->ckpt_path);
    if (rc == 0) rc = load_run_arrays(r, &c.state, err);
    if (rc == 0) rc = load_pending(r, &c.state, err);
    sp_ckpt_free(&c);
    return rc ? -1 : 1;
}

/* ---- progress and results -------------------------------------------------------------- */

static void format_duration(double s, char *buf, size_t n)
{
    if (!(s >= 0) || s > 1e8) snprintf(buf, n, "?");
    else if (s < 60) snprintf(buf, n, "%.0fs", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static void print_progress(const run_ctx *r, double t_start, size_t n_start)
{
    const sp_search_driver *d = &r->driver;
    sp_mask best;
    double fit = INFINITY;
    char mbuf[1024] = "-", eta[32];
    if (sp_search_driver_best(d, &best, &fit)) sp_mask_format(&best, mbuf, sizeof mbuf);
    double dt = sp_now() - t_start, rate = dt > 0 ? (double)(r->n - n_start) / dt : 0;
    double left = (double)(r->job->budget - (int64_t)r->n);
    format_duration(rate > 0 ? left / rate : -1, eta, sizeof eta);
    printf("[%s k=%d %s] gen %lld: %zu/%lld evals, %lld cache hits, best %.6f {%s}, %.2f evals/s, "
           "ETA %s\n",
           r->job->name, r->k, sp_alg_kind_name(r->job->search.kind), (long long)d->generation,
           r->n, (long long)r->job->budget, (long long)d->cache.hits, fit, mbuf, rate, eta);
    fflush(stdout);
}

/* "infeasible_candidates": the masks whose objective metric was NaN (fitness +inf in the
 * history), found again from the recorded metrics so that a resumed run lists them too. */
static void add_infeasible(const run_ctx *r, cJSON *o)
{
    cJSON *arr = cJSON_AddArrayToObject(o, "infeasible_candidates");
    for (size_t i = 0; i < r->n; i++) {
        double fit;
        sp_error e = {{0}};
        const sp_mask *m = &r->driver.history[i].mask;
        if (fitness_of(r, m, r->metrics + i * SP_METRIC_COUNT, &fit, &e) <= 0) continue;
        int idx[SP_MAX_LAYERS], n = sp_mask_to_list(m, idx, SP_MAX_LAYERS);
        cJSON_AddItemToArray(arr, cJSON_CreateIntArray(idx, n));
    }
}

/* summary.json of one k: the answer and how it was found. */
static int write_summary(const run_ctx *r, const char *path, sp_error *err)
{
    sp_mask best;
    double fit = NAN;
    int have = sp_search_driver_best(&r->driver, &best, &fit);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "job", r->job->name);
    cJSON_AddStringToObject(o, "model", r->job->model);
    cJSON_AddStringToObject(o, "algorithm", sp_alg_kind_name(r->job->search.kind));
    cJSON_AddStringToObject(o, "objective", sp_objective_kind_name(r->job->objective.kind));
    cJSON_AddStringToObject(o, "task", sp_task_kind_name(r->job->task.kind));
    int32_t bos = -1;
    if (sp_job_bos(r->job, r->model, &bos, err)) {
        cJSON_Delete(o);
        return -1;
    }
    if (bos >= 0) cJSON_AddNumberToObject(o, "bos", bos);
    else cJSON_AddNullToObject(o, "bos");
    cJSON_AddNumberToObject(o, "k", r->k);
    cJSON_AddNumberToObject(o, "num_layers", (double)r->model->cfg.n_layers);
    cJSON_AddNumberToObject(o, "evaluations", (double)r->n);
    cJSON_AddNumberToObject(o, "budget", (double)r->job->budget);
    cJSON_AddNumberToObject(o, "cache_hits", (double)r->driver.cache.hits);
    cJSON_AddNumberToObject(o, "generations", (double)r->driver.generation);
    cJSON_AddStringToObject(o, "stop_reason", sp_driver_status_name(r->driver.status));
    cJSON_AddNumberToObject(o, "wall_seconds", now_elapsed(r));
    if (r->sched->hosts) { /* which hosts ran which worker group (this run; not resumed ones) */
        cJSON_AddStringToObject(o, "coordinator_host", r->sched->hosts);
        cJSON *a = cJSON_AddArrayToObject(o, "worker_group_hosts");
        for (int g = 0; g < r->sched->n_groups; g++) {
            char h[256];
            sp_sched_group_hosts(r->sched, g, h, sizeof h);
            cJSON_AddItemToArray(a, cJSON_CreateString(h));
        }
    }
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->job->seed);
    cJSON_AddStringToObject(o, "seed", seed);
    add_infeasible(r, o);
    if (have) {
        int idx[SP_MAX_LAYERS], n = sp_mask_to_list(&best, idx, SP_MAX_LAYERS);
        cJSON_AddItemToObject(o, "removed_layers", cJSON_CreateIntArray(idx, n));
        cJSON_AddNumberToObject(o, "best_fitness", fit);
        const double *m = r->metrics + (size_t)r->driver.best_index * SP_METRIC_COUNT;
        cJSON *mo = cJSON_AddObjectToObject(o, "best_metrics");
        for (int i = 0; i < SP_METRIC_COUNT; i++)
            if (!isnan(m[i])) cJSON_AddNumberToObject(mo, sp_metric_names[i], m[i]);
        double frac = removed_fraction(r, &best);
        cJSON_AddNumberToObject(o, "size_fraction_removed", frac);
        cJSON_AddNumberToObject(o, "bytes_before", r->total_bytes);
        cJSON_AddNumberToObject(o, "bytes_after", r->total_bytes * (1 - frac));
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    size_t n = strlen(text);
    char *withnl = sp_xmalloc(n + 2);
    memcpy(withnl, text, n);
    memcpy(withnl + n, "\n", 2);
    int rc = sp_write_text_atomic(path, withnl, err);
    free(text);
    free(withnl);
    return rc;
}

/* ---- one k ------------------------------------------------------------------------------ */

/* Says so when PSO / WOA leave out their greedy-path warm start because it would cost more than
 * half the budget (otherwise a silent difference between two budgets). */
static void note_warm_path(const run_ctx *r)
{
    const sp_algorithm *a = r->driver.alg;
    const sp_search_params *s = &a->params;
    int woa = s->kind == SP_ALG_WOA, pso = s->kind == SP_ALG_PSO || s->kind == SP_ALG_BPSO;
    int m = woa ? s->woa.warm_path : pso ? s->pso.warm_path : 0;
    int W = woa ? s->woa.warm_beam : s->pso.warm_beam, m_run, W_run;
    sp_warm_path_plan(&a->problem, m, W, 0, s->budget, &m_run, &W_run);
    if (m == 0 || s->n_warm > 0 || m_run > 0) return;
    long long cost = (long long)sp_warm_path_cost(&a->problem, m, W_run);
    printf("[%s k=%d] greedy-path warm start skipped: it would take %lld of the %lld evaluations "
           "(more than half; a budget of %lld or more runs it, search.%s.warm_path: 0 silences "
           "this)\n",
           r->job->name, r->k, cost, (long long)s->budget, 2 * cost,
           s->kind == SP_ALG_WOA ? "woa" : "pso");
}

static int setup_run(run_ctx *r, const sp_search_options *opt, sp_error *err)
{
    const sp_job *job = r->job;
    sp_search_problem prob;
    if (sp_search_problem_init(&prob, (int)r->model->cfg.n_layers, r->k,
                               job->has_protected ? &job->protected_layers : NULL,
                               job->n_fidelities, err))
        return sp_error_wrap(err, "%s: k = %d", job->file, r->k);
    if (sp_search_params_validate(&job->search, &prob, err)) { /* "pso.inertia: ..." */
        char msg[SP_ERROR_MSG_MAX];
        memcpy(msg, err->msg, sizeof msg);
        return sp_error_set(err, "%s: search.%.1900s", job->file, msg);
    }
    sp_driver_config cfg;
    sp_driver_config_default(&cfg);
    cfg.max_evals = job->budget;
    cfg.halving = job->n_fidelities > 1;
    if (sp_search_driver_init(&r->driver, &prob, &job->search, job->seed, &cfg, eval_batch, r, err))
        return sp_error_wrap(err, "%s", job->file);
    int resumed = opt->resume ? try_resume(r, err) : 0;
    if (resumed < 0) return -1;
    if (!resumed && opt->require_resume)
        return sp_error_set(err, "--resume: no checkpoint at %s (run without --resume to start)",
                            r->ckpt_path);
    if (!resumed) note_warm_path(r);
    if (resumed)
        printf("[%s k=%d] resumed from %s: %zu evaluations, generation %lld, %zu pending\n",
               job->name, r->k, r->ckpt_path, r->n, (long long)r->driver.generation, r->n_pend);
    return take_snapshot(r, err);
}

static int finish_run(run_ctx *r, sp_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/results.h5", r->dir);
    if (write_checkpoint(r, r->ckpt_path, SP_CKPT_DONE, err) ||
        write_checkpoint(r, path, SP_CKPT_DONE, err))
        return -1;
    snprintf(path, sizeof path, "%s/summary.json", r->dir);
    if (write_summary(r, path, err)) return -1;
    snprintf(path, sizeof path, "%s/DONE", r->dir);
    char line[128], jh[17], fp[17];
    sp_ckpt_job_hash(r->job->compat, jh);
    sp_model_fingerprint(r->model, fp);
    snprintf(line, sizeof line, "done budget %lld job %s model %s\n", (long long)r->job->budget,
             jh, fp);
    return sp_write_text_atomic(path, line, err);
}

/* Returns SP_EXIT_OK, SP_EXIT_RESUMABLE or SP_EXIT_FAILURE. */
static int run_one_k(run_ctx *r, const sp_search_options *opt, sp_error *err)
{
    if (setup_run(r, opt, err)) return SP_EXIT_FAILURE;
    double t_start = sp_now();
    size_t n_start = r->n;
    for (;;) {
        int step = sp_search_driver_step(&r->driver, err);
        if (step < 0 && r->stopped) {
            sp_error e2 = {{0}};
            if (write_checkpoint(r, r->ckpt_path, SP_CKPT_STOPPED, &e2)) {
                *err = e2;
                return SP_EXIT_FAILURE;
            }
            return SP_EXIT_RESUMABLE;
        }
        if (step < 0) return SP_EXIT_FAILURE;
        r->n_pend = 0; /* the generation is complete: its results are in the history */
        if (take_snapshot(r, err)) return SP_EXIT_FAILURE;
        if (!opt->quiet) print_progress(r, t_start, n_start);
        if (step == 0) break;
        if (sp_signal_pending()) {
            if (write_checkpoint(r, r->ckpt_path, SP_CKPT_STOPPED, err)) return SP_EXIT_FAILURE;
            return SP_EXIT_RESUMABLE;
        }
        if (r->driver.generation % r->job->checkpoint_interval == 0 &&
            write_checkpoint(r, r->ckpt_path, SP_CKPT_RUNNING, err))
            return SP_EXIT_FAILURE;
    }
    return finish_run(r, err) ? SP_EXIT_FAILURE : SP_EXIT_OK;
}

static void free_run(run_ctx *r)
{
    sp_search_driver_free(&r->driver);
    sp_state_free(&r->snapshot);
    free(r->metrics);
    free(r->wall);
    free(r->worker);
    free(r->pend);
    free(r->pend_metrics);
    free(r->pend_worker);
}

static double model_total_bytes(const sp_model *m)
{
    double b = 0;
    for (int i = 0; i < m->st.n_tensors; i++) b += (double)m->st.tensors[i].nbytes;
    return b;
}

static void print_final(const run_ctx *r)
{
    sp_mask best;
    double fit = NAN;
    char mbuf[1024] = "-";
    if (sp_search_driver_best(&r->driver, &best, &fit)) sp_mask_format(&best, mbuf, sizeof mbuf);
    double frac = fit == fit ? removed_fraction(r, &best) : NAN;
    printf("  k=%-3d %-10s best fitness %-12.6f size -%.1f%%  evals %zu  removed {%s}\n", r->k,
           sp_alg_kind_name(r->job->search.kind), fit, 100 * frac, r->n, mbuf);
}

static void run_dir(const sp_job *job, int ki, char *buf, size_t size)
{
    if (job->n_k == 1) snprintf(buf, size, "%s", job->output);
    else snprintf(buf, size, "%s/k%d", job->output, job->k[ki]);
}

/* A DONE marker counts when it was written for at least this job's budget, for this job (its
 * hash without the budget) and, when fp is given, this model ("done budget N job JH model FP").
 * A marker of another job or model (or of an older format) is stale: the search then goes
 * through the checkpoint, whose own checks refuse a different job or model. */
static int done_marker(const sp_job *job, const char *dir, const char *fp)
{
    char path[4200], jh[17], mjh[17] = "", mfp[17] = "";
    snprintf(path, sizeof path, "%s/DONE", dir);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    long long budget = -1;
    int n = fscanf(f, "done budget %lld job %16s model %16s", &budget, mjh, mfp);
    fclose(f);
    sp_ckpt_job_hash(job->compat, jh);
    return n == 3 && budget >= job->budget && strcmp(mjh, jh) == 0 &&
           (!fp || strcmp(mfp, fp) == 0);
}

int sp_search_all_done(const sp_job *job, const char *fp)
{
    for (int ki = 0; ki < job->n_k; ki++) {
        char dir[4096];
        run_dir(job, ki, dir, sizeof dir);
        if (!done_marker(job, dir, fp)) return 0;
    }
    return 1;
}

/* A sweep counts as started when some k has a checkpoint or a DONE marker: --resume then
 * continues it, and the k values not yet begun start fresh. */
static int sweep_started(const sp_job *job)
{
    struct stat sb;
    for (int ki = 0; ki < job->n_k; ki++) {
        char path[4200];
        sp_search_checkpoint_path(job, ki, path, sizeof path);
        if (stat(path, &sb) == 0) return 1;
        run_dir(job, ki, path, sizeof path);
        if (done_marker(job, path, NULL)) return 1;
    }
    return 0;
}

/* OUTPUT/summary.json of a sweep: each k's summary.json, in job order, and a DONE marker. */
static int write_sweep_summary(const sp_job *job, sp_error *err)
{
    cJSON *o = cJSON_CreateObject(), *arr;
    cJSON_AddStringToObject(o, "job", job->name);
    cJSON_AddStringToObject(o, "model", job->model);
    cJSON_AddItemToObject(o, "k", cJSON_CreateIntArray(job->k, job->n_k));
    arr = cJSON_AddArrayToObject(o, "runs");
    int rc = 0;
    for (int ki = 0; ki < job->n_k && rc == 0; ki++) {
        char path[4200];
        cJSON *one = NULL;
        run_dir(job, ki, path, sizeof path);
        strncat(path, "/summary.json", sizeof path - strlen(path) - 1);
        rc = sp_json_parse_file(path, &one, err);
        if (rc == 0) cJSON_AddItemToArray(arr, one);
    }
    char *text = rc == 0 ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (rc) return -1;
    char path[4200], done[64];
    size_t n = strlen(text);
    text = sp_xrealloc(text, n + 2);
    memcpy(text + n, "\n", 2);
    snprintf(path, sizeof path, "%s/summary.json", job->output);
    rc = sp_write_text_atomic(path, text, err);
    free(text);
    snprintf(path, sizeof path, "%s/DONE", job->output);
    snprintf(done, sizeof done, "done budget %lld\n", (long long)job->budget);
    return rc ? rc : sp_write_text_atomic(path, done, err);
}

int sp_search_coordinate(const sp_job *job, const sp_model *model, sp_sched *sched,
                         const sp_search_options *opt_in, sp_error *err)
{
    int rc = SP_EXIT_OK;
    sp_search_options opt_copy = *opt_in;
    const sp_search_options *opt = &opt_copy;
    if (job->n_k > 1 && opt_copy.require_resume) {
        if (!sweep_started(job)) {
            sp_error_set(err, "--resume: no checkpoint of any k of the sweep (%s with .k<K> "
                         "inserted) and no finished k (run without --resume to start)",
                         job->checkpoint);
            return SP_EXIT_FAILURE;
        }
        opt_copy.require_resume = 0;
    }
    run_ctx *runs = sp_xcalloc((size_t)job->n_k, sizeof *runs);
    for (int ki = 0; ki < job->n_k && rc == SP_EXIT_OK; ki++) {
        run_ctx *r = &runs[ki];
        r->job = job, r->model = model, r->sched = sched, r->k = job->k[ki], r->t0 = sp_now();
        r->total_bytes = model_total_bytes(model);
        sp_state_init(&r->snapshot);
        sp_search_checkpoint_path(job, ki, r->ckpt_path, sizeof r->ckpt_path);
        run_dir(job, ki, r->dir, sizeof r->dir);
        char ckdir[4096];
        snprintf(ckdir, sizeof ckdir, "%s", r->ckpt_path);
        char *slash = strrchr(ckdir, '/');
        if (slash) *slash = '\0';
        if (sp_mkdir_p(r->dir, err) || (slash && sp_mkdir_p(ckdir, err))) {
            rc = SP_EXIT_FAILURE;
            break;
        }
        char fp[17];
        sp_model_fingerprint(model, fp);
        if (opt->resume && done_marker(job, r->dir, fp)) {
            printf("[%s k=%d] already finished (DONE); results in %s\n", job->name, r->k, r->dir);
            continue;
        }
        sp_ckpt_lock lock;
        if (sp_ckpt_lock_acquire(r->ckpt_path, &lock, err)) {
            rc = SP_EXIT_FAILURE;
            break;
        }
        r->lock = &lock;
        rc = run_one_k(r, opt, err);
        r->lock = NULL;
        sp_ckpt_lock_release(&lock);
    }
    if (rc == SP_EXIT_OK) {
        printf("\nsummary of %s (%s, %s objective):\n", job->name, job->model,
               sp_objective_kind_name(job->objective.kind));
        for (int ki = 0; ki < job->n_k; ki++)
            if (runs[ki].driver.alg) print_final(&runs[ki]);
            else printf("  k=%-3d finished earlier: see %s/summary.json\n", runs[ki].k, runs[ki].dir);
        if (job->n_k > 1 && write_sweep_summary(job, err)) rc = SP_EXIT_FAILURE;
        else printf("results in %s%s\n", job->output,
                    job->n_k > 1 ? " (summary.json: every k; k<K>/: each k's results)" : "");
    } else if (rc == SP_EXIT_RESUMABLE) {
        printf("stopped by signal %d: checkpoint written; run the same command%s again to "
               "resume (exit code %d)\n", sp_signal_pending(),
               opt->resume ? "" : " without --fresh", SP_EXIT_RESUMABLE);
    }
    for (int ki = 0; ki < job->n_k; ki++) free_run(&runs[ki]);
    free(runs);
    return rc;
}
