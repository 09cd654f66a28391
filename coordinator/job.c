/* job.c — loads and validates the search job file (see job.h and the README's job reference). */
#include "job.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/json_util.h"
#include "coordinator/warm_path.h"
#include "worker/engine.h"

const char *sp_task_kind_name(sp_task_kind kind)
{
    static const char *names[SP_TASK_COUNT] = {"nll", "hellaswag", "kl"};
    return kind >= 0 && kind < SP_TASK_COUNT ? names[kind] : "?";
}

/* Resolves `rel` against the directory of the job file (absolute paths unchanged), made
 * canonical when it exists so messages and summaries show a clean path. */
static char *resolve_path(const char *job_path, const char *rel)
{
    if (rel[0] == '/') return sp_xstrdup(rel);
    char *joined = NULL;
    char *tmp = sp_xstrdup(job_path);
    const char *dir = dirname(tmp);
    size_t n = strlen(dir) + strlen(rel) + 2;
    char *out = sp_xmalloc(n);
    if (strcmp(dir, ".") == 0) snprintf(out, n, "%s", rel);
    else snprintf(out, n, "%s/%s", dir, rel);
    free(tmp);
    joined = realpath(out, NULL);
    if (joined) {
        free(out);
        return joined;
    }
    return out;
}

static int parse_task(const cJSON *root, const char *file, sp_job *job, sp_error *err)
{
    static const char *const keys[] = {"type", "path", "limit", "ctx", "bos", "sample", "seed",
                                       NULL};
    const cJSON *t = sp_json_get(root, "task");
    if (!t) return sp_error_set(err, "task: required key is missing");
    if (sp_json_check_object(t, "task", keys, err)) return -1;
    const char *type = NULL, *path = NULL;
    if (sp_json_member_string(t, "task", "type", 1, &type, err) < 0) return -1;
    sp_job_task *task = &job->task;
    int found = 0;
    for (int i = 0; i < SP_TASK_COUNT; i++)
        if (strcmp(type, sp_task_kind_name((sp_task_kind)i)) == 0) task->kind = i, found = 1;
    if (!found)
        return sp_error_set(err, "task.type: unknown task \"%s\" (expected nll, hellaswag or kl)",
                            type);
    if (sp_json_member_string(t, "task", "path", 1, &path, err) < 0) return -1;
    task->path = resolve_path(file, path);
    task->limit = 0;
    task->ctx = 128;
    task->bos = -1;
    task->sample = task->sample_seed = 0;
    if (sp_json_member_int(t, "task", "limit", 0, 0, INT64_C(1) << 40, &task->limit, err) < 0)
        return -1;
    if (sp_json_member_int(t, "task", "ctx", 0, 2, 1 << 20, &task->ctx, err) < 0) return -1;
    if (sp_json_member_bool(t, "task", "bos", 0, &task->bos, err) < 0) return -1;
    if (sp_json_member_int(t, "task", "sample", 0, 1, INT64_C(1) << 40, &task->sample, err) < 0 ||
        sp_json_member_int(t, "task", "seed", 0, 0, INT64_MAX, &task->sample_seed, err) < 0)
        return -1;
    if (task->sample && task->kind != SP_TASK_HELLASWAG)
        return sp_error_set(err, "task.sample: only for hellaswag (use task.limit)");
    if (task->sample && task->limit)
        return sp_error_set(err, "task.sample and task.limit exclude each other");
    if (sp_json_get(t, "seed") && !task->sample)
        return sp_error_set(err, "task.seed: goes with task.sample");
    return 0;
}

static int parse_objective(const cJSON *root, sp_job *job, sp_error *err)
{
    static const char *const keys[] = {"type", "weights", "accuracy_metric", NULL};
    static const char *const wkeys[] = {"accuracy", "size", "time", NULL};
    const cJSON *o = sp_json_get(root, "objective");
    if (!o) return sp_error_set(err, "objective: required key is missing");
    if (sp_json_check_object(o, "objective", keys, err)) return -1;
    const char *type = NULL;
    if (sp_json_member_string(o, "objective", "type", 1, &type, err) < 0) return -1;
    sp_objective_kind kind;
    if (sp_objective_kind_parse(type, &kind, err)) return sp_error_wrap(err, "objective.type");
    sp_objective_default(&job->objective, kind);
    const cJSON *w = sp_json_get(o, "weights");
    if (w && kind != SP_OBJ_WEIGHTED)
        return sp_error_set(err, "objective.weights: only allowed with type \"weighted\"");
    if (w) {
        if (sp_json_check_object(w, "objective.weights", wkeys, err)) return -1;
        if (sp_json_member_double(w, "objective.weights", "accuracy", 0, 0, 1e6,
                                  &job->objective.w_acc, err) < 0 ||
            sp_json_member_double(w, "objective.weights", "size", 0, 0, 1e6,
                                  &job->objective.w_size, err) < 0 ||
            sp_json_member_double(w, "objective.weights", "time", 0, 0, 1e6,
                                  &job->objective.w_time, err) < 0)
            return -1;
    }
    const char *am = NULL;
    int r = sp_json_member_string(o, "objective", "accuracy_metric", 0, &am, err);
    if (r < 0) return -1;
    if (r == 1) {
        if (strcmp(am, "acc_norm") == 0) job->objective.use_acc_norm = 1;
        else if (strcmp(am, "acc") == 0) job->objective.use_acc_norm = 0;
        else
            return sp_error_set(err, "objective.accuracy_metric: expected \"acc_norm\" or \"acc\", "
                                     "got \"%s\"", am);
    }
    if (sp_objective_validate(&job->objective, err)) return sp_error_wrap(err, "objective");
    int needs_mc = kind == SP_OBJ_ACC || kind == SP_OBJ_ACC_NORM || kind == SP_OBJ_WEIGHTED;
    if (needs_mc && job->task.kind != SP_TASK_HELLASWAG)
        return sp_error_set(err, "objective.type: \"%s\" needs task.type \"hellaswag\"", type);
    if (kind == SP_OBJ_NLL && job->task.kind != SP_TASK_NLL)
        return sp_error_set(err, "objective.type: \"nll\" needs task.type \"nll\"");
    if (kind == SP_OBJ_KL && job->task.kind != SP_TASK_KL)
        return sp_error_set(err, "objective.type: \"kl\" needs task.type \"kl\"");
    return 0;
}

static int parse_k(const cJSON *root, sp_job *job, sp_error *err)
{
    const cJSON *k = sp_json_get(root, "k");
    if (!k) return sp_error_set(err, "k: required key is missing");
    int64_t v;
    if (cJSON_IsNumber(k)) {
        if (sp_json_int(k, "k", 1, SP_MAX_LAYERS - 1, &v, err)) return -1;
        job->n_k = 1;
        job->k[0] = (int)v;
        return 0;
    }
    if (!cJSON_IsArray(k) || cJSON_GetArraySize(k) < 1 || cJSON_GetArraySize(k) > SP_JOB_MAX_K)
        return sp_error_set(err, "k: expected an integer or an array of 1..%d integers",
                            SP_JOB_MAX_K);
    int i = 0;
    for (const cJSON *e = k->child; e; e = e->next, i++) {
        char path[32];
        snprintf(path, sizeof path, "k[%d]", i);
        if (sp_json_int(e, path, 1, SP_MAX_LAYERS - 1, &v, err)) return -1;
        for (int j = 0; j < i; j++)
            if (job->k[j] == v) return sp_error_set(err, "%s: %lld listed twice", path, (long long)v);
        job->k[i] = (int)v;
    }
    job->n_k = i;
    return 0;
}

static int parse_protected(const cJSON *root, sp_job *job, sp_error *err)
{
    const cJSON *p = sp_json_get(root, "protected");
    sp_mask_clear(&job->protected_layers);
    if (!p) return 0;
    if (!cJSON_IsArray(p)) return sp_error_set(err, "protected: expected an array of layer indices");
    job->has_protected = 1;
    int i = 0;
    for (const cJSON *e = p->child; e; e = e->next, i++) {
        char path[32];
        int64_t v;
        snprintf(path, sizeof path, "protected[%d]", i);
        if (sp_json_int(e, path, 0, SP_MAX_LAYERS - 1, &v, err)) return -1;
        if (sp_mask_test(&job->protected_layers, (int)v))
            return sp_error_set(err, "%s: layer %lld listed twice", path, (long long)v);
        sp_mask_set(&job->protected_layers, (int)v);
    }
    return 0;
}

/* warm_beam: -1 (automatic) or 1..SP_WARM_BEAM_MAX. */
static int member_beam(const cJSON *o, const char *where, int64_t *beam, sp_error *err)
{
    int r = sp_json_member_int(o, where, "warm_beam", 0, INT32_MIN, INT32_MAX, beam, err);
    if (r > 0 && *beam != -1 && (*beam < 1 || *beam > SP_WARM_BEAM_MAX))
        return sp_error_set(err, "%s.warm_beam: expected -1 (automatic) or an integer in [1, %d], "
                            "got %lld", where, SP_WARM_BEAM_MAX, (long long)*beam);
    return r;
}

/* Reads the optional block search.<name> into the parameter struct fields listed. */
static int parse_pso(const cJSON *s, sp_pso_params *p, sp_error *err)
{
    static const char *const keys[] = {"swarm",     "inertia",      "c1",      "c2", "vmax",
                                       "bpso_vmax", "local_search", "restart", "surrogate",
                                       "warm_path", "warm_beam", NULL};
    const cJSON *o = sp_json_get(s, "pso");
    if (!o) return 0;
    if (sp_json_check_object(o, "search.pso", keys, err)) return -1;
    int64_t swarm = p->swarm, ls = p->local_search, restart = p->restart, sur = p->surrogate;
    int64_t path = p->warm_path, beam = p->warm_beam;
    if (sp_json_member_int(o, "search.pso", "swarm", 0, 1, 10000, &swarm, err) < 0 ||
        member_beam(o, "search.pso", &beam, err) < 0 ||
        sp_json_member_int(o, "search.pso", "warm_path", 0, -1, 10000, &path, err) < 0 ||
        sp_json_member_int(o, "search.pso", "restart", 0, 0, 1000000, &restart, err) < 0 ||
        sp_json_member_int(o, "search.pso", "local_search", 0, 0, 10000, &ls, err) < 0 ||
        sp_json_member_int(o, "search.pso", "surrogate", 0, 0, 1, &sur, err) < 0 ||
        sp_json_member_double(o, "search.pso", "inertia", 0, 0, 1.5, &p->inertia, err) < 0 ||
        sp_json_member_double(o, "search.pso", "c1", 0, 0, 4, &p->c1, err) < 0 ||
        sp_json_member_double(o, "search.pso", "c2", 0, 0, 4, &p->c2, err) < 0 ||
        sp_json_member_double(o, "search.pso", "vmax", 0, 0, 1, &p->vmax, err) < 0 ||
        sp_json_member_double(o, "search.pso", "bpso_vmax", 0, 1e-9, 20, &p->bpso_vmax, err) < 0)
        return -1;
    p->swarm = (int)swarm;
    p->local_search = (int)ls;
    p->restart = (int)restart;
    p->surrogate = (int)sur;
    p->warm_path = (int)path;
    p->warm_beam = (int)beam;
    return 0;
}

static int parse_woa(const cJSON *s, sp_woa_params *p, sp_error *err)
{
    static const char *const keys[] = {"whales",  "b",         "max_iter", "local_search",
                                       "restart", "surrogate", "warm_path", "warm_beam", NULL};
    const cJSON *o = sp_json_get(s, "woa");
    if (!o) return 0;
    if (sp_json_check_object(o, "search.woa", keys, err)) return -1;
    int64_t whales = p->whales, max_iter = p->max_iter, ls = p->local_search, restart = p->restart;
    int64_t sur = p->surrogate, path = p->warm_path, beam = p->warm_beam;
    if (sp_json_member_int(o, "search.woa", "whales", 0, 1, 10000, &whales, err) < 0 ||
        member_beam(o, "search.woa", &beam, err) < 0 ||
        sp_json_member_int(o, "search.woa", "warm_path", 0, -1, 10000, &path, err) < 0 ||
        sp_json_member_int(o, "search.woa", "local_search", 0, 0, 10000, &ls, err) < 0 ||
        sp_json_member_int(o, "search.woa", "surrogate", 0, 0, 1, &sur, err) < 0 ||
        sp_json_member_int(o, "search.woa", "restart", 0, 0, 1000000, &restart, err) < 0 ||
        sp_json_member_double(o, "search.woa", "b", 0, 1e-9, 10, &p->b, err) < 0 ||
        sp_json_member_int(o, "search.woa", "max_iter", 0, 1, 1000000, &max_iter, err) < 0)
        return -1;
    p->whales = (int)whales;
    p->max_iter = (int)max_iter;
    p->local_search = (int)ls;
    p->restart = (int)restart;
    p->surrogate = (int)sur;
    p->warm_path = (int)path;
    p->warm_beam = (int)beam;
    return 0;
}

static int parse_evo(const cJSON *s, sp_evo_params *p, sp_error *err)
{
    static const char *const keys[] = {"lambda", "max_swaps", "keep_ratio", NULL};
    const cJSON *o = sp_json_get(s, "evo");
    if (!o) return 0;
    if (sp_json_check_object(o, "search.evo", keys, err)) return -1;
    int64_t lambda = p->lambda, swaps = p->max_swaps, keep = p->keep_ratio;
    if (sp_json_member_int(o, "search.evo", "lambda", 0, 1, 10000, &lambda, err) < 0 ||
        sp_json_member_int(o, "search.evo", "max_swaps", 0, 1, 64, &swaps, err) < 0 ||
        sp_json_member_int(o, "search.evo", "keep_ratio", 0, 2, 64, &keep, err) < 0)
        return -1;
    p->lambda = (int)lambda;
    p->max_swaps = (int)swaps;
    p->keep_ratio = (int)keep;
    return 0;
}

static int parse_enum(const cJSON *s, sp_enum_params *p, sp_error *err)
{
    static const char *const keys[] = {"batch", "limit", NULL};
    const cJSON *o = sp_json_get(s, "enumeration");
    if (!o) return 0;
    if (sp_json_check_object(o, "search.enumeration", keys, err)) return -1;
    int64_t batch = p->batch;
    if (sp_json_member_int(o, "search.enumeration", "batch", 0, 1, 100000, &batch, err) < 0 ||
        sp_json_member_int(o, "search.enumeration", "limit", 0, 1, INT64_C(1) << 40, &p->limit,
                           err) < 0)
        return -1;
    p->batch = (int)batch;
    return 0;
}

static int parse_fidelities(const cJSON *s, sp_job *job, sp_error *err)
{
    const cJSON *f = sp_json_get(s, "fidelities");
    job->n_fidelities = 1;
    job->fidelity_fraction[0] = 1.0;
    if (!f) return 0;
    int n = cJSON_GetArraySize(f);
    if (!cJSON_IsArray(f) || n < 1 || n > SP_MAX_FIDELITIES)
        return sp_error_set(err, "search.fidelities: expected an array of 1..%d fractions in (0, 1]",
                            SP_MAX_FIDELITIES);
    int i = 0;
    for (const cJSON *e = f->child; e; e = e->next, i++) {
        char path[48];
        snprintf(path, sizeof path, "search.fidelities[%d]", i);
        if (sp_json_double(e, path, 1e-9, 1.0, &job->fidelity_fraction[i], err)) return -1;
        if (i > 0 && !(job->fidelity_fraction[i] > job->fidelity_fraction[i - 1]))
            return sp_error_set(err, "%s: fractions must increase", path);
    }
    if (job->fidelity_fraction[n - 1] != 1.0)
        return sp_error_set(err, "search.fidelities[%d]: the last level must be 1 (full data)",
                            n - 1);
    job->n_fidelities = n;
    return 0;
}

/* A parameter block the chosen algorithm does not read (e.g. "woa" under "pso") is refused:
 * silently ignoring it hides a typo in "algorithm" or a forgotten edit. */
static int check_blocks(const cJSON *s, sp_alg_kind kind, const char *alg, sp_error *err)
{
    static const struct {
        const char *key;
        unsigned kinds; /* bit per sp_alg_kind that reads the block */
    } blocks[] = {
        {"pso", 1u << SP_ALG_PSO | 1u << SP_ALG_BPSO},
        {"woa", 1u << SP_ALG_WOA},
        {"evo", 1u << SP_ALG_EVO},
        {"enumeration", 1u << SP_ALG_RANDOM | 1u << SP_ALG_EXHAUSTIVE | 1u << SP_ALG_GREEDY |
                            1u << SP_ALG_FIXED},
    };
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        if (sp_json_get(s, blocks[i].key) && !(blocks[i].kinds & (1u << kind)))
            return sp_error_set(err, "search.%s: parameters for another algorithm: "
                                     "search.algorithm is \"%s\", which does not read them "
                                     "(remove the block or change the algorithm)",
                                blocks[i].key, alg);
    return 0;
}

static int parse_search(const cJSON *root, sp_job *job, sp_error *err)
{
    static const char *const keys[] = {"algorithm", "budget", "fidelities", "pso", "woa", "evo",
                                       "enumeration", NULL};
    const cJSON *s = sp_json_get(root, "search");
    if (!s) return sp_error_set(err, "search: required key is missing");
    if (sp_json_check_object(s, "search", keys, err)) return -1;
    const char *alg = NULL;
    if (sp_json_member_string(s, "search", "algorithm", 1, &alg, err) < 0) return -1;
    sp_alg_kind kind;
    if (sp_alg_kind_parse(alg, &kind, err)) return sp_error_wrap(err, "search.algorithm");
    sp_search_params_default(&job->search, kind);
    if (sp_json_member_int(s, "search", "budget", 1, 1, INT64_C(1) << 40, &job->budget, err) < 0)
        return -1;
    if (parse_pso(s, &job->search.pso, err) || parse_woa(s, &job->search.woa, err) ||
        parse_evo(s, &job->search.evo, err) || parse_enum(s, &job->search.enumeration, err) ||
        check_blocks(s, kind, alg, err))
        return -1;
    return parse_fidelities(s, job, err);
}

static int parse_seed(const cJSON *root, sp_job *job, sp_error *err)
{
    const cJSON *s = sp_json_get(root, "seed");
    job->seed = 0;
    if (!s) return 0;
    if (cJSON_IsString(s)) { /* 64-bit seeds as decimal strings */
        const char *p = s->valuestring;
        char *end = NULL;
        /* digits only: strtoull would take "+5", " 5" and clamp above 2^64-1 */
        size_t nd = strspn(p, "0123456789");
        if (!p[0] || p[nd] != '\0')
            return sp_error_set(err, "seed: expected a decimal string of digits, got \"%.80s\"",
                                p);
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno == ERANGE)
            return sp_error_set(err, "seed: \"%.80s\" is above 2^64-1 = 18446744073709551615",
                                p);
        job->seed = v;
        return 0;
    }
    int64_t v;
    if (sp_json_int(s, "seed", 0, INT64_C(9007199254740992), &v, err))
        return sp_error_wrap(err, "(use a string for seeds above 2^53)");
    job->seed = (uint64_t)v;
    return 0;
}

static int parse_paths(const cJSON *root, const char *file, sp_job *job, sp_error *err)
{
    static const char *const ckeys[] = {"path", "interval", NULL};
    const char *model = NULL, *output = NULL, *name = NULL, *backend = "cpu";
    if (sp_json_member_string(root, "", "name", 1, &name, err) < 0) return -1;
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof job->name || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
                                                        "KLMNOPQRSTUVWXYZ0123456789._-") != n)
        return sp_error_set(err, "name: expected 1..%zu characters of [A-Za-z0-9._-], got \"%s\"",
                            sizeof job->name - 1, name);
    memcpy(job->name, name, n + 1);
    if (sp_json_member_string(root, "", "model", 1, &model, err) < 0) return -1;
    if (sp_json_member_string(root, "", "output", 1, &output, err) < 0) return -1;
    if (sp_json_member_string(root, "", "backend", 0, &backend, err) < 0) return -1;
    if (strcmp(backend, "cpu") == 0) job->backend = SP_BACKEND_CPU;
    else if (strcmp(backend, "cuda") == 0) job->backend = SP_BACKEND_CUDA;
    else return sp_error_set(err, "backend: expected \"cpu\" or \"cuda\", got \"%s\"", backend);
    job->model = resolve_path(file, model);
    job->output = resolve_path(file, output);
    int64_t threads = 1, tp = 1, interval = 1;
    if (sp_json_member_int(root, "", "threads", 0, 0, 1024, &threads, err) < 0) return -1;
    if (sp_json_member_int(root, "", "tp", 0, 1, 1024, &tp, err) < 0) return -1;
    job->threads = (int)threads;
    job->tp = (int)tp;
    const cJSON *c = sp_json_get(root, "checkpoint");
    const char *cpath = NULL;
    if (c) {
        if (sp_json_check_object(c, "checkpoint", ckeys, err)) return -1;
        if (sp_json_member_string(c, "checkpoint", "path", 0, &cpath, err) < 0) return -1;
        if (sp_json_member_int(c, "checkpoint", "interval", 0, 1, 1000000, &interval, err) < 0)
            return -1;
    }
    job->checkpoint_interval = (int)interval;
    struct stat sb;
    size_t cl = cpath ? strlen(cpath) : 0;
    if (cpath && (cl == 0 || cpath[cl - 1] == '/'))
        return sp_error_set(err, "checkpoint.path: \"%s\" names a directory, not a file (e.g. "
                                 "\"%s%scheckpoint.h5\")", cpath, cpath, cl ? "" : "./");
    if (cpath) {
        job->checkpoint = resolve_path(file, cpath);
        if (stat(job->checkpoint, &sb) == 0 && S_ISDIR(sb.st_mode))
            return sp_error_set(err, "checkpoint.path: \"%s\" (%s) is a directory, not a file "
                                     "(e.g. \"%s/checkpoint.h5\")", cpath, job->checkpoint, cpath);
    } else {
        size_t m = strlen(job->output) + 32;
        job->checkpoint = sp_xmalloc(m);
        snprintf(job->checkpoint, m, "%s/checkpoint.h5", job->output);
    }
    return 0;
}

int sp_job_parse(const char *text, size_t len, const char *path, sp_job *job, sp_error *err)
{
    static const char *const keys[] = {"name", "model", "backend", "threads", "tp", "task",
                                       "objective", "k", "protected", "search", "seed",
                                       "output", "checkpoint", NULL};
    memset(job, 0, sizeof *job);
    cJSON *root = NULL;
    if (sp_json_parse(text, len, path, &root, err)) return -1;
    int rc = -1;
    if (sp_json_check_object(root, "", keys, err) || parse_paths(root, path, job, err) ||
        parse_task(root, path, job, err) || parse_objective(root, job, err) ||
        parse_k(root, job, err) || parse_protected(root, job, err) ||
        parse_search(root, job, err) || parse_seed(root, job, err)) {
        if (strncmp(err->msg, path, strlen(path)) != 0) sp_error_wrap(err, "%s", path);
        goto done;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "search"),
                                            "budget");
    job->compat = cJSON_PrintUnformatted(root);
    SP_ASSERT(job->compat);
    job->file = sp_xstrdup(path);
    job->text = sp_xmalloc(len + 1);
    memcpy(job->text, text, len);
    job->text[len] = '\0';
    rc = 0;
done:
    cJSON_Delete(root);
    if (rc) sp_job_free(job);
    return rc;
}

int sp_job_load(const char *path, sp_job *job, sp_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    memset(job, 0, sizeof *job);
    if (sp_require_regular_file(path, err) || sp_read_file(path, &buf, &len, err)) return -1;
    int rc = sp_job_parse(buf, len, path, job, err);
    free(buf);
    return rc;
}

void sp_job_free(sp_job *job)
{
    free(job->file);
    free(job->text);
    free(job->compat);
    free(job->model);
    free(job->task.path);
    free(job->output);
    free(job->checkpoint);
    memset(job, 0, sizeof *job);
}
