/* report.c — loading the inputs of `swarmprune report` (results/checkpoint file, the job text
 * inside it, an optional summary.json beside it), deriving what the charts need (best mask
 * and its metrics, the metric and its unit, labels), and writing report.md with its table.
 * The charts themselves are drawn in report_plots.c. */
#include "report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fs.h"
#include "common/json_util.h"

static const char *const metric_names[SP_REPORT_N_METRICS] = {"nll", "acc", "acc_norm", "kl"};

/* ---- metric helpers ------------------------------------------------------------------------ */

int sp_report_higher_is_better(int metric)
{
    return metric == SP_REPORT_ACC || metric == SP_REPORT_ACC_NORM || metric == SP_REPORT_SCORE;
}

double sp_report_display_metric(int metric, double value)
{
    if (metric == SP_REPORT_ACC || metric == SP_REPORT_ACC_NORM) return 100.0 * value;
    return value;
}

double sp_report_display_fitness(const sp_report_run *r, double fitness)
{
    double v = fitness;
    /* fitness is minimized: accuracy objectives store -acc, the weighted one -score */
    if (sp_report_higher_is_better(r->metric) && r->ck.minimize) v = -v;
    return sp_report_display_metric(r->metric, v);
}

const char *sp_report_metric_key(int metric)
{
    if (metric >= 0 && metric < SP_REPORT_N_METRICS) return metric_names[metric];
    return metric == SP_REPORT_SCORE ? "score" : "fitness";
}

void sp_report_metric_label(int metric, const char *task, char *buf, size_t size)
{
    const char *bench = strcmp(task, "hellaswag") == 0 ? "HellaSwag " : "";
    switch (metric) {
    case SP_REPORT_NLL: snprintf(buf, size, "mean NLL (nats/token)"); break;
    case SP_REPORT_ACC: snprintf(buf, size, "%saccuracy acc (%%)", bench); break;
    case SP_REPORT_ACC_NORM: snprintf(buf, size, "%sacc_norm (%%)", bench); break;
    case SP_REPORT_KL: snprintf(buf, size, "mean KL to full model (nats/token)"); break;
    case SP_REPORT_SCORE: snprintf(buf, size, "weighted score (higher is better)"); break;
    default: snprintf(buf, size, "fitness (lower is better)"); break;
    }
}

/* ---- loading ------------------------------------------------------------------------------- */

/* HDF5 files start with this signature at byte 0 (or 512, 1024, ... after a user block). */
static int check_hdf5_signature(const char *path, sp_error *err)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    struct stat sb;
    if (stat(path, &sb) != 0) return sp_error_set(err, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return sp_error_set(err, "%s: is a directory (expected a results.h5 or checkpoint.h5 "
                            "file)", path);
    FILE *f = fopen(path, "rb");
    if (!f) return sp_error_set(err, "%s: cannot open: %s", path, strerror(errno));
    int found = 0;
    for (long off = 0; !found && off <= (1L << 20) && off + 8 <= (long)sb.st_size;
         off = off ? off * 2 : 512) {
        unsigned char b[8];
        found = fseek(f, off, SEEK_SET) == 0 && fread(b, 1, 8, f) == 8 && memcmp(b, sig, 8) == 0;
    }
    fclose(f);
    if (!found)
        return sp_error_set(err, "%s: not an HDF5 file (no HDF5 signature at byte 0); expected "
                            "a results.h5 or checkpoint.h5 written by swarmprune search", path);
    return 0;
}

/* objective.type, task.type and protected from the job text; absent keys keep defaults. */
static void read_job(sp_report_run *r)
{
    int L = r->ck.n_layers;
    sp_mask_clear(&r->protected_layers);
    sp_mask_set(&r->protected_layers, 0);
    sp_mask_set(&r->protected_layers, L - 1);
    cJSON *root = r->ck.job_text ? cJSON_Parse(r->ck.job_text) : NULL;
    if (!cJSON_IsObject(root)) {
        snprintf(r->note, sizeof r->note, "the job text is not a JSON object: objective unknown, "
                 "first and last layer assumed protected");
        cJSON_Delete(root);
        return;
    }
    const cJSON *o = sp_json_get(sp_json_get(root, "objective"), "type");
    if (cJSON_IsString(o)) snprintf(r->objective, sizeof r->objective, "%s", o->valuestring);
    const cJSON *t = sp_json_get(sp_json_get(root, "task"), "type");
    if (cJSON_IsString(t)) snprintf(r->task, sizeof r->task, "%s", t->valuestring);
    const cJSON *p = sp_json_get(root, "protected");
    if (cJSON_IsArray(p)) {
        sp_mask_clear(&r->protected_layers);
        for (const cJSON *e = p->child; e; e = e->next)
            if (cJSON_IsNumber(e) && e->valuedouble >= 0 && e->valuedouble < L &&
                e->valuedouble == floor(e->valuedouble))
                sp_mask_set(&r->protected_layers, (int)e->valuedouble);
    }
    cJSON_Delete(root);
}

static int metric_of_objective(const char *objective)
{
    for (int m = 0; m < SP_REPORT_N_METRICS; m++)
        if (strcmp(objective, metric_names[m]) == 0) return m;
    return strcmp(objective, "weighted") == 0 ? SP_REPORT_SCORE : SP_REPORT_FITNESS;
}

/* The best mask, its history row and metrics. */
static void derive_best(sp_report_run *r)
{
    const sp_ckpt_history *h = &r->ck.history;
    const sp_ckpt_best *b = &r->ck.best;
    r->best_index = -1;
    r->k = -1;
    for (int m = 0; m < SP_REPORT_N_METRICS; m++) r->best_metrics[m] = NAN;
    if (b->n == 0) return;
    r->has_best = 1;
    r->best_mask = b->mask[b->n - 1];
    r->best_fitness = b->fitness[b->n - 1];
    r->k = sp_mask_count(&r->best_mask);
    int64_t ev = b->evaluation[b->n - 1];
    if (ev >= 1 && (size_t)ev <= h->n && sp_mask_equal(&h->mask[ev - 1], &r->best_mask))
        r->best_index = (long)(ev - 1);
    for (size_t e = 0; r->best_index < 0 && e < h->n; e++)
        if (sp_mask_equal(&h->mask[e], &r->best_mask) && h->fitness[e] == r->best_fitness)
            r->best_index = (long)e;
    if (r->best_index < 0) return;
    for (int m = 0; m < SP_REPORT_N_METRICS; m++)
        for (int j = 0; j < h->n_metrics; j++)
            if (strcmp(h->metric_names[j], metric_names[m]) == 0)
                r->best_metrics[m] = h->metrics[(size_t)r->best_index * h->n_metrics + j];
}

static int summary_number(const cJSON *o, const char *key, double *out)
{
    const cJSON *v = sp_json_get(o, key);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return 0;
    *out = v->valuedouble;
    return 1;
}

/* summary.json next to the results file: sizes and wall time, used only when its
 * removed_layers match the checkpoint's best mask. */
static int read_summary(sp_report_run *r, sp_error *err)
{
    char spath[4200];
    const char *slash = strrchr(r->path, '/');
    if (slash) snprintf(spath, sizeof spath, "%.*s/summary.json", (int)(slash - r->path), r->path);
    else snprintf(spath, sizeof spath, "summary.json");
    struct stat sb;
    if (stat(spath, &sb) != 0) return 0;
    cJSON *o = NULL;
    if (sp_json_parse_file(spath, &o, err)) return -1;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return sp_error_set(err, "%s: expected a JSON object", spath);
    }
    const cJSON *rl = sp_json_get(o, "removed_layers");
    sp_mask m;
    sp_mask_clear(&m);
    int ok = cJSON_IsArray(rl);
    for (const cJSON *e = ok ? rl->child : NULL; e; e = e->next)
        if (cJSON_IsNumber(e) && e->valuedouble >= 0 && e->valuedouble < r->ck.n_layers)
            sp_mask_set(&m, (int)e->valuedouble);
        else ok = 0;
    if (!ok || !r->has_best || !sp_mask_equal(&m, &r->best_mask)) {
        snprintf(r->note, sizeof r->note, "%.200s ignored: its removed_layers %s the best mask "
                 "of %.200s", spath, ok ? "differ from" : "are missing or invalid, cannot match", r->path);
        cJSON_Delete(o);
        return 0;
    }
    r->has_summary = 1;
    summary_number(o, "wall_seconds", &r->wall_seconds);
    if (summary_number(o, "bytes_before", &r->bytes_before) &&
        summary_number(o, "bytes_after", &r->bytes_after) && r->bytes_before > 0) {
        r->has_bytes = 1;
        if (!summary_number(o, "size_fraction_removed", &r->size_fraction))
            r->size_fraction = 1.0 - r->bytes_after / r->bytes_before;
    }
    cJSON_Delete(o);
    return 0;
}

/* Infeasible candidates: fitness +inf in the history while the objective's metric is NaN (the
 * search records a NaN metric that way and goes on). Counted and named in the run's note. */
static void note_infeasible(sp_report_run *r)
{
    const sp_ckpt_history *h = &r->ck.history;
    int col = -1;
    if (r->metric >= 0 && r->metric < SP_REPORT_N_METRICS)
        for (int j = 0; j < h->n_metrics; j++)
            if (strcmp(h->metric_names[j], metric_names[r->metric]) == 0) col = j;
    size_t n = 0, first = 0;
    for (size_t e = 0; col >= 0 && e < h->n; e++)
        if (isinf(h->fitness[e]) && h->fitness[e] > 0 && isnan(h->metrics[e * h->n_metrics + col]))
            if (n++ == 0) first = e;
    if (n == 0) return;
    char mb[1024];
    size_t len = strlen(r->note);
    snprintf(r->note + len, sizeof r->note - len,
             "%s%zu infeasible candidate(s) (metric %s is NaN; recorded with fitness +inf), the "
             "first removing {%s}", len ? "; " : "", n, metric_names[r->metric],
             sp_mask_format(&h->mask[first], mb, sizeof mb));
}

int sp_report_load(const char *path, sp_report_run *r, sp_error *err)
{
    memset(r, 0, sizeof *r);
    r->path = sp_xstrdup(path);
    sp_ckpt_init(&r->ck, 1, 0, NULL);
    int rc = check_hdf5_signature(path, err);
    if (rc == 0) {
        sp_ckpt_free(&r->ck);
        rc = sp_ckpt_read(path, NULL, NULL, &r->ck, err);
    }
    if (rc == 0) {
        read_job(r);
        derive_best(r);
        r->metric = metric_of_objective(r->objective);
        r->oneshot = (r->ck.algorithm && strcmp(r->ck.algorithm, "fixed") == 0) ||
                     r->ck.history.n == 1;
        for (size_t e = 0; e < r->ck.history.n; e++)
            if (isfinite(r->ck.history.wall_time[e]) && r->ck.history.wall_time[e] > r->wall_seconds)
                r->wall_seconds = r->ck.history.wall_time[e];
        rc = read_summary(r, err);
        if (rc == 0) note_infeasible(r);
    }
    if (rc) sp_report_run_free(r);
    return rc;
}

void sp_report_run_free(sp_report_run *r)
{
    free(r->path);
    sp_ckpt_free(&r->ck);
    memset(r, 0, sizeof *r);
}

void sp_report_label_runs(sp_report_run *runs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sp_report_run *r = &runs[i];
        const char *alg = r->ck.algorithm && r->ck.algorithm[0] ? r->ck.algorithm : "?";
        if (r->k >= 0) snprintf(r->label, sizeof r->label, "%s, k=%d", alg, r->k);
        else snprintf(r->label, sizeof r->label, "%s, k=?", alg);
    }
    for (size_t i = 0; i < n; i++) {
        int dup = 0;
        for (size_t j = 0; j < n; j++)
            if (j != i && strcmp(runs[i].label, runs[j].label) == 0) dup = 1;
        if (!dup) continue;
        char base[96];
        snprintf(base, sizeof base, "%s", runs[i].label);
        for (size_t j = i; j < n; j++)
            if (strcmp(runs[j].label, base) == 0) {
                size_t len = strlen(base) < 80 ? strlen(base) : 80;
                snprintf(runs[j].label, sizeof runs[j].label, "%.*s (#%zu)", (int)len, base, j + 1);
            }
    }
}

/* ---- report.md ------------------------------------------------------------------------------ */

static void fmt_duration(double s, char *buf, size_t n)
{
    if (!(s >= 0) || !isfinite(s)) snprintf(buf, n, "?");
    else if (s < 120) snprintf(buf, n, "%.1f s", s);
    else if (s < 7200) snprintf(buf, n, "%.1f min", s / 60);
    else snprintf(buf, n, "%.2f h", s / 3600);
}

static void fmt_metric(int m, double v, char *buf, size_t n)
{
    if (isnan(v)) snprintf(buf, n, "–");
    else if (m == SP_REPORT_ACC || m == SP_REPORT_ACC_NORM) snprintf(buf, n, "%.2f", 100 * v);
    else snprintf(buf, n, "%.4f", v);
}

static const char *const metric_headers[SP_REPORT_N_METRICS] = {
    "NLL (nats/token)", "acc (%)", "acc_norm (%)", "KL (nats/token)"};

static void write_table(FILE *f, const sp_report_run *runs, size_t n)
{
    int show[SP_REPORT_N_METRICS] = {0};
    for (size_t i = 0; i < n; i++)
        for (int m = 0; m < SP_REPORT_N_METRICS; m++)
            if (!isnan(runs[i].best_metrics[m])) show[m] = 1;
    fprintf(f, "| # | input | algorithm | k | removed layers | size (GB) | size reduction |");
    for (int m = 0; m < SP_REPORT_N_METRICS; m++)
        if (show[m]) fprintf(f, " %s |", metric_headers[m]);
    fprintf(f, " best fitness | evaluations | search wall time |\n|---|---|---|--:|---|--:|--:|");
    for (int m = 0; m < SP_REPORT_N_METRICS; m++)
        if (show[m]) fprintf(f, "--:|");
    fprintf(f, "--:|--:|--:|\n");
    for (size_t i = 0; i < n; i++) {
        const sp_report_run *r = &runs[i];
        char mask[1100] = "–", k[16] = "–", size[32] = "–", red[32] = "–", buf[64];
        if (r->has_best) {
            sp_mask_format(&r->best_mask, mask, sizeof mask);
            if (!mask[0]) snprintf(mask, sizeof mask, "none");
            snprintf(k, sizeof k, "%d", r->k);
        }
        if (r->has_bytes) {
            snprintf(size, sizeof size, "%.2f → %.2f", r->bytes_before / 1e9, r->bytes_after / 1e9);
            snprintf(red, sizeof red, "%.1f %%", 100 * r->size_fraction);
        }
        fprintf(f, "| %zu | `%s` | %s | %s | %s | %s | %s |", i + 1, r->path,
                r->ck.algorithm ? r->ck.algorithm : "?", k, mask, size, red);
        for (int m = 0; m < SP_REPORT_N_METRICS; m++) {
            if (!show[m]) continue;
            fmt_metric(m, r->best_metrics[m], buf, sizeof buf);
            fprintf(f, " %s |", buf);
        }
        if (r->has_best) snprintf(buf, sizeof buf, "%.6g", r->best_fitness);
        else snprintf(buf, sizeof buf, "–");
        char wall[32];
        fmt_duration(r->wall_seconds, wall, sizeof wall);
        fprintf(f, " %s | %zu | %s |\n", buf, r->ck.history.n, wall);
    }
    fprintf(f, "\nSizes are the model's weight bytes (1 GB = 10^9 bytes) before → after removing "
               "the layers, from the summary.json next to each results file; – where unknown. "
               "Accuracies are in percent. Best fitness is the search's minimized value "
               "(accuracy objectives store −accuracy).\n\n");
}

/* Distinct metrics drawn, in order of first appearance; returns their number. */
static int metric_groups(const sp_report_run *runs, size_t n, int *groups /* [n] */)
{
    int ng = 0;
    for (size_t i = 0; i < n; i++) {
        int seen = 0;
        for (int g = 0; g < ng; g++) seen |= groups[g] == runs[i].metric;
        if (!seen) groups[ng++] = runs[i].metric;
    }
    return ng;
}

static int plot_group(FILE *f, const sp_report_run *runs, size_t n, int metric, const char *dir,
                      sp_error *err)
{
    char path[4200], label[96], note[512];
    const char *key = sp_report_metric_key(metric);
    const char *task = "";
    for (size_t i = 0; i < n; i++)
        if (runs[i].metric == metric) task = runs[i].task;
    sp_report_metric_label(metric, task, label, sizeof label);
    fprintf(f, "## Convergence: %s\n\n", label);
    fprintf(f, "Best %s found so far (%s is better); one-shot baselines are dashed horizontal "
               "lines.\n\n", label, sp_report_higher_is_better(metric) ? "higher" : "lower");
    for (int t = 0; t < 2; t++) {
        snprintf(path, sizeof path, "%s/convergence-%s-%s.svg", dir, key, t ? "time" : "evals");
        if (sp_report_plot_convergence(runs, n, metric, t, path, err)) return -1;
        fprintf(f, "![best %s so far against %s](convergence-%s-%s.svg)\n\n", label,
                t ? "wall time" : "evaluations", key, t ? "time" : "evals");
    }
    fprintf(f, "## Size against %s\n\n", label);
    snprintf(path, sizeof path, "%s/size-%s.svg", dir, key);
    if (sp_report_plot_size(runs, n, metric, path, note, sizeof note, err)) return -1;
    fprintf(f, "![model size against %s](size-%s.svg)\n\n", label, key);
    if (note[0]) fprintf(f, "Note: %s\n\n", note);
    return 0;
}

static int plot_layers(FILE *f, const sp_report_run *runs, size_t n, const char *dir,
                       sp_error *err)
{
    char path[4200];
    fprintf(f, "## Per-layer pruning frequency\n\n");
    for (size_t i = 0; i < n; i++) {
        const sp_report_run *r = &runs[i];
        fprintf(f, "### %zu. %s (`%s`)\n\n", i + 1, r->label, r->path);
        snprintf(path, sizeof path, "%s/frequency-%zu.svg", dir, i + 1);
        if (sp_report_plot_frequency(r, path, err)) return -1;
        fprintf(f, "![pruning frequency per layer, %s](frequency-%zu.svg)\n\n", r->label, i + 1);
        if (r->ck.freq.n_iter == 0) {
            fprintf(f, "No completed iteration: no heat map.\n\n");
            continue;
        }
        snprintf(path, sizeof path, "%s/heatmap-%zu.svg", dir, i + 1);
        if (sp_report_plot_heatmap(r, path, err)) return -1;
        fprintf(f, "![pruning frequency by layer and iteration, %s](heatmap-%zu.svg)\n\n",
                r->label, i + 1);
    }
    return 0;
}

static int write_body(FILE *f, const sp_report_run *runs, size_t n, const char *dir,
                      sp_error *err)
{
    fprintf(f, "# swarmprune report\n\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%zu. `%s`: job `%s`, %s, status %s, evaluations %zu, iterations %lld\n",
                i + 1, runs[i].path, runs[i].ck.job_name ? runs[i].ck.job_name : "?",
                runs[i].label, sp_ckpt_status_name(runs[i].ck.status), runs[i].ck.history.n,
                (long long)runs[i].ck.iteration);
    fprintf(f, "\n## Results\n\n");
    write_table(f, runs, n);
    int *groups = sp_xmalloc(n * sizeof *groups);
    int ng = metric_groups(runs, n, groups), rc = 0;
    for (int g = 0; g < ng && rc == 0; g++) rc = plot_group(f, runs, n, groups[g], dir, err);
    free(groups);
    if (rc == 0) rc = plot_layers(f, runs, n, dir, err);
    int notes = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (runs[i].note[0])
            fprintf(f, "%s- %zu: %s\n", notes++ ? "" : "## Notes\n\n", i + 1, runs[i].note);
    return rc;
}

int sp_report_write(const sp_report_run *runs, size_t n, const char *out_dir, sp_error *err)
{
    SP_ASSERT(n > 0);
    if (sp_mkdir_p(out_dir, err)) return -1;
    char path[4200], tmp[4300];
    snprintf(path, sizeof path, "%s/report.md", out_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return sp_error_set(err, "%s: cannot write: %s", tmp, strerror(errno));
    int rc = write_body(f, runs, n, out_dir, err);
    if (fclose(f) != 0 && rc == 0) rc = sp_error_set(err, "%s: write failed: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, path) != 0)
        rc = sp_error_set(err, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (rc) remove(tmp);
    return rc;
}
