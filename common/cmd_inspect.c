/* cmd_inspect.c — `swarmprune inspect CHECKPOINT.h5 [--json] [--top N]`: verifies a checkpoint
 * (or results.h5, same schema) and summarises it: status, job, model fingerprint, progress,
 * best fitness overall and per number of removed layers k (from the history), the latest rows
 * of the best-so-far trajectory and per-layer pruning frequencies as a text bar chart. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoint.h"
#include "cli.h"
#include "results_dir.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: swarmprune inspect CHECKPOINT.h5|OUTPUT_DIR [--json] [--top N]\n\n"
            "Verifies a checkpoint or results file (schema version, checksums) and prints its\n"
            "status, job, model fingerprint, iteration, number of evaluations, the best fitness\n"
            "overall and per number of removed layers k, the last N rows of the best-so-far\n"
            "trajectory and the per-layer pruning frequencies. Only full-fidelity evaluations\n"
            "count as best (with search.fidelities, partial-data scores are not comparable).\n"
            "A search's output directory stands for its results.h5; a sweep's for every\n"
            "k<K>/results.h5 (--json: an array).\n\n"
            "options:\n"
            "  --json    print one JSON object instead of text\n"
            "  --top N   trajectory rows to show (default 10, 0 = all)\n"
            "  -h, --help\n");
}

/* The full-fidelity level of the checkpoint's job: search.fidelities has one level per entry,
 * the last one the full data (a job without it has one level, 0). */
static int64_t full_fidelity(const sp_ckpt *c)
{
    cJSON *job = c->job_text ? cJSON_Parse(c->job_text) : NULL;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(job, "search"), "fidelities");
    int64_t full = cJSON_IsArray(f) && cJSON_GetArraySize(f) > 0 ? cJSON_GetArraySize(f) - 1 : 0;
    cJSON_Delete(job);
    return full;
}

/* Index of the best full-fidelity history entry removing exactly k layers, per k (-1 when
 * none): a partial-data score is never "best" (it is not comparable with full-data ones). */
static void best_per_k(const sp_ckpt *c, long *best /* [L+1] */)
{
    const sp_ckpt_history *h = &c->history;
    int64_t full = full_fidelity(c);
    for (int k = 0; k <= c->n_layers; k++) best[k] = -1;
    for (size_t e = 0; e < h->n; e++) {
        double f = h->fitness[e];
        if (isnan(f) || h->fidelity[e] != full) continue;
        int k = sp_mask_count(&h->mask[e]);
        long b = best[k];
        if (b < 0 || (c->minimize ? f < h->fitness[b] : f > h->fitness[b])) best[k] = (long)e;
    }
}

static void fmt_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t > 0 && gmtime_r(&tt, &tm))
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(out, 32, "?");
}

static void print_text(const char *path, const sp_ckpt *c, size_t top, const long *bk)
{
    char created[32], updated[32], mbuf[1024];
    fmt_time(c->created, created);
    fmt_time(c->updated, updated);
    printf("checkpoint    %s\n", path);
    printf("status        %s\n", sp_ckpt_status_name(c->status));
    printf("job           %s (job_hash %s)\n", c->job_name, c->job_hash);
    printf("model         %s\n", c->model_fingerprint);
    printf("algorithm     %s (fitness: %s is better)\n", c->algorithm,
           c->minimize ? "lower" : "higher");
    printf("schema        %" PRId64 " (written by swarmprune %s)\n", c->schema_version,
           c->program_version ? c->program_version : "?");
    printf("time          created %s, updated %s\n", created, updated);
    printf("iteration     %" PRId64 "\n", c->iteration);
    int64_t full = full_fidelity(c);
    size_t n_full = 0;
    for (size_t e = 0; e < c->history.n; e++) n_full += c->history.fidelity[e] == full;
    if (full > 0)
        printf("evaluations   %zu (%zu at full fidelity, level %" PRId64 "; %zu on partial data, "
               "never counted as best)\n", c->history.n, n_full, full, c->history.n - n_full);
    else
        printf("evaluations   %zu\n", c->history.n);
    const sp_ckpt_best *b = &c->best;
    if (b->n)
        printf("best fitness  %.6g removing [%s] (k=%d)\n", b->fitness[b->n - 1],
               sp_mask_format(&b->mask[b->n - 1], mbuf, sizeof mbuf),
               sp_mask_count(&b->mask[b->n - 1]));
    printf("\nbest per k at full fidelity (removed layers):\n");
    for (int k = 0; k <= c->n_layers; k++)
        if (bk[k] >= 0)
            printf("  k=%-3d %12.6g  [%s]\n", k, c->history.fitness[bk[k]],
                   sp_mask_format(&c->history.mask[bk[k]], mbuf, sizeof mbuf));
    size_t first = top && b->n > top ? b->n - top : 0;
    printf("\nbest-so-far trajectory (%zu of %zu rows):\n  %10s %12s  removed\n", b->n - first,
           b->n, "evaluation", "fitness");
    for (size_t i = first; i < b->n; i++)
        printf("  %10" PRId64 " %12.6g  [%s]\n", b->evaluation[i], b->fitness[i],
               sp_mask_format(&b->mask[i], mbuf, sizeof mbuf));
    printf("\nper-layer pruning frequency over all evaluations:\n");
    for (int l = 0; l < c->n_layers; l++) {
        double v = c->freq.overall[l];
        int bars = isfinite(v) ? (int)lround((v < 0 ? 0 : v > 1 ? 1 : v) * 40) : 0;
        char bar[41];
        memset(bar, '#', (size_t)bars);
        memset(bar + bars, ' ', (size_t)(40 - bars));
        bar[40] = '\0';
        printf("  layer %3d |%s| %.3f\n", l, bar, v);
    }
}

static cJSON *mask_json(const sp_mask *m, int n_layers)
{
    cJSON *a = cJSON_CreateArray();
    for (int l = 0; l < n_layers; l++)
        if (sp_mask_test(m, l)) cJSON_AddItemToArray(a, cJSON_CreateNumber(l));
    return a;
}

static void print_json(const char *path, const sp_ckpt *c, size_t top, const long *bk)
{
    cJSON *o = cJSON_CreateObject();
    char created[32], updated[32];
    fmt_time(c->created, created);
    fmt_time(c->updated, updated);
    cJSON_AddStringToObject(o, "checkpoint", path);
    cJSON_AddNumberToObject(o, "schema_version", (double)c->schema_version);
    cJSON_AddStringToObject(o, "swarmprune_version", c->program_version ? c->program_version : "");
    cJSON_AddStringToObject(o, "status", sp_ckpt_status_name(c->status));
    cJSON_AddStringToObject(o, "job_name", c->job_name);
    cJSON_AddStringToObject(o, "job_hash", c->job_hash);
    cJSON_AddStringToObject(o, "model_fingerprint", c->model_fingerprint);
    cJSON_AddStringToObject(o, "algorithm", c->algorithm);
    cJSON_AddStringToObject(o, "fitness_goal", c->minimize ? "minimize" : "maximize");
    cJSON_AddStringToObject(o, "created", created);
    cJSON_AddStringToObject(o, "updated", updated);
    cJSON_AddNumberToObject(o, "iteration", (double)c->iteration);
    cJSON_AddNumberToObject(o, "n_layers", c->n_layers);
    cJSON_AddNumberToObject(o, "evaluations", (double)c->history.n);
    int64_t full = full_fidelity(c);
    size_t n_full = 0;
    for (size_t e = 0; e < c->history.n; e++) n_full += c->history.fidelity[e] == full;
    cJSON_AddNumberToObject(o, "full_fidelity", (double)full);
    cJSON_AddNumberToObject(o, "evaluations_full_fidelity", (double)n_full);
    const sp_ckpt_best *b = &c->best;
    if (b->n) {
        cJSON_AddNumberToObject(o, "best_fitness", b->fitness[b->n - 1]);
        cJSON_AddItemToObject(o, "best_removed", mask_json(&b->mask[b->n - 1], c->n_layers));
    }
    cJSON *pk = cJSON_AddArrayToObject(o, "best_per_k");
    for (int k = 0; k <= c->n_layers; k++) {
        if (bk[k] < 0) continue;
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "k", k);
        cJSON_AddNumberToObject(r, "fitness", c->history.fitness[bk[k]]);
        cJSON_AddNumberToObject(r, "fidelity", (double)c->history.fidelity[bk[k]]);
        cJSON_AddItemToObject(r, "removed", mask_json(&c->history.mask[bk[k]], c->n_layers));
        cJSON_AddItemToArray(pk, r);
    }
    cJSON *tr = cJSON_AddArrayToObject(o, "trajectory");
    for (size_t i = top && b->n > top ? b->n - top : 0; i < b->n; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "evaluation", (double)b->evaluation[i]);
        cJSON_AddNumberToObject(r, "fitness", b->fitness[i]);
        cJSON_AddItemToObject(r, "removed", mask_json(&b->mask[i], c->n_layers));
        cJSON_AddItemToArray(tr, r);
    }
    cJSON_AddItemToObject(o, "frequencies", cJSON_CreateDoubleArray(c->freq.overall, c->n_layers));
    char *s = cJSON_Print(o);
    SP_ASSERT(s != NULL);
    printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
}

static int inspect_one(const char *path, int json, size_t top)
{
    sp_error err = {{0}};
    sp_ckpt c;
    if (sp_ckpt_read(path, NULL, NULL, &c, &err) < 0) {
        sp_ckpt_free(&c);
        return sp_cli_fail("inspect", &err);
    }
    long *bk = sp_xmalloc(((size_t)c.n_layers + 1) * sizeof *bk);
    best_per_k(&c, bk);
    if (json)
        print_json(path, &c, top, bk);
    else
        print_text(path, &c, top, bk);
    free(bk);
    sp_ckpt_free(&c);
    return SP_EXIT_OK;
}

int cmd_inspect(int argc, char **argv)
{
    if (sp_cli_wants_help(argc, argv)) {
        usage(stdout);
        return SP_EXIT_OK;
    }
    const char *path = NULL, *val = NULL;
    int json = 0;
    int64_t top = 10;
    sp_error err = {{0}};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--top") == 0) {
            if (sp_cli_value(argc, argv, &i, &val, &err) < 0 ||
                sp_cli_int("--top", val, 0, 1000000000, &top, &err) < 0)
                return sp_cli_usage_error("inspect", "%s", err.msg);
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return sp_cli_usage_error("inspect", "unknown option \"%s\"", argv[i]);
        } else if (path) {
            return sp_cli_usage_error("inspect", "more than one file given (\"%s\")", argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path) return sp_cli_usage_error("inspect", "missing CHECKPOINT.h5");
    char **files;
    size_t nf;
    if (sp_results_expand(path, &files, &nf, &err) < 0) return sp_cli_fail("inspect", &err);
    int rc = SP_EXIT_OK;
    if (json && nf > 1) printf("[\n");
    for (size_t i = 0; i < nf && rc == SP_EXIT_OK; i++) {
        if (!json && nf > 1) printf("%s==> %s <==\n", i ? "\n" : "", files[i]);
        if (json && i) printf(",\n");
        rc = inspect_one(files[i], json, (size_t)top);
    }
    if (json && nf > 1 && rc == SP_EXIT_OK) printf("]\n");
    sp_results_free(files, nf);
    if (rc != SP_EXIT_OK) return rc;
    return fflush(stdout) == 0 ? SP_EXIT_OK : SP_EXIT_FAILURE;
}
