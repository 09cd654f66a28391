/* checkpoint.c — the in-memory checkpoint: construction, appends, hashing and the root
 * checksum text. File I/O is in checkpoint_io.c, the lock file in checkpoint_lock.c. */
#include "checkpoint.h"
#include "hash.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint_internal.h"

uint64_t sp_ckpt_fnv1a(uint64_t h, const void *data, size_t len) { return sp_fnv1a(h, data, len); }

void sp_ckpt_hex64(uint64_t h, char out[17]) { snprintf(out, 17, "%016" PRIx64, h); }

void sp_ckpt_job_hash(const char *canonical_text, char out[17])
{
    sp_ckpt_hex64(sp_ckpt_fnv1a(SP_CKPT_FNV_OFFSET, canonical_text, strlen(canonical_text)), out);
}

const char *sp_ckpt_status_name(sp_ckpt_status s)
{
    switch (s) {
    case SP_CKPT_RUNNING: return "running";
    case SP_CKPT_STOPPED: return "stopped";
    case SP_CKPT_DONE: return "done";
    }
    return "?";
}

int sp_ckpt_status_parse(const char *s, sp_ckpt_status *out)
{
    for (int i = 0; i <= (int)SP_CKPT_DONE; i++)
        if (strcmp(s, sp_ckpt_status_name((sp_ckpt_status)i)) == 0) {
            *out = (sp_ckpt_status)i;
            return 0;
        }
    return -1;
}

void sp_ckpt_init(sp_ckpt *c, int n_layers, int n_metrics, const char *const *metric_names)
{
    SP_ASSERT(n_layers >= 1 && n_layers <= SP_MAX_LAYERS);
    SP_ASSERT(n_metrics >= 0 && (n_metrics == 0 || metric_names));
    memset(c, 0, sizeof *c);
    c->schema_version = SP_CKPT_SCHEMA_VERSION;
    c->n_layers = n_layers;
    c->minimize = 1;
    sp_state_init(&c->state);
    c->history.n_layers = n_layers;
    c->history.n_metrics = n_metrics;
    c->history.metric_names = sp_xcalloc((size_t)n_metrics + 1, sizeof(char *));
    for (int i = 0; i < n_metrics; i++) c->history.metric_names[i] = sp_xstrdup(metric_names[i]);
    c->freq.n_layers = n_layers;
    c->freq.overall = sp_xcalloc((size_t)n_layers, sizeof(double));
}

void sp_ckpt_free(sp_ckpt *c)
{
    if (!c) return;
    free(c->program_version);
    free(c->job_name);
    free(c->job_text);
    free(c->model_fingerprint);
    free(c->algorithm);
    sp_state_free(&c->state);
    sp_ckpt_history *h = &c->history;
    if (h->metric_names)
        for (int i = 0; i < h->n_metrics; i++) free(h->metric_names[i]);
    free(h->metric_names);
    free(h->mask);
    free(h->fidelity);
    free(h->iteration);
    free(h->fitness);
    free(h->metrics);
    free(h->wall_time);
    free(h->worker);
    free(c->freq.per_iter);
    free(c->freq.overall);
    free(c->best.evaluation);
    free(c->best.fitness);
    free(c->best.mask);
    memset(c, 0, sizeof *c);
}

static void set_str(char **dst, const char *src)
{
    free(*dst);
    *dst = src ? sp_xstrdup(src) : NULL;
}

void sp_ckpt_set_job(sp_ckpt *c, const char *name, const char *canonical_text)
{
    set_str(&c->job_name, name);
    set_str(&c->job_text, canonical_text);
    sp_ckpt_job_hash(canonical_text, c->job_hash);
}

void sp_ckpt_set_model(sp_ckpt *c, const char *fingerprint) { set_str(&c->model_fingerprint, fingerprint); }
void sp_ckpt_set_algorithm(sp_ckpt *c, const char *algorithm) { set_str(&c->algorithm, algorithm); }

/* Grows *p (elements of `size` bytes, `rows` per entry) to hold cap entries. */
static void grow(void **p, size_t cap, size_t rows, size_t size)
{
    size_t n = 0;
    SP_ASSERT(sp_mul_size(cap, rows, &n) == 0 && sp_mul_size(n, size, &n) == 0);
    *p = sp_xrealloc(*p, n ? n : 1);
}

static size_t next_cap(size_t cap) { return cap ? cap * 2 : 64; }

void sp_ckpt_history_append(sp_ckpt_history *h, const sp_mask *mask, int64_t fidelity,
                            int64_t iteration, double fitness, const double *metrics,
                            double wall_time, int64_t worker)
{
    if (h->n == h->cap) {
        size_t cap = next_cap(h->cap), m = (size_t)h->n_metrics;
        grow((void **)&h->mask, cap, 1, sizeof *h->mask);
        grow((void **)&h->fidelity, cap, 1, sizeof *h->fidelity);
        grow((void **)&h->iteration, cap, 1, sizeof *h->iteration);
        grow((void **)&h->fitness, cap, 1, sizeof *h->fitness);
        grow((void **)&h->metrics, cap, m, sizeof *h->metrics);
        grow((void **)&h->wall_time, cap, 1, sizeof *h->wall_time);
        grow((void **)&h->worker, cap, 1, sizeof *h->worker);
        h->cap = cap;
    }
    size_t e = h->n++;
    h->mask[e] = *mask;
    h->fidelity[e] = fidelity;
    h->iteration[e] = iteration;
    h->fitness[e] = fitness;
    for (int j = 0; j < h->n_metrics; j++) h->metrics[e * (size_t)h->n_metrics + (size_t)j] = metrics[j];
    h->wall_time[e] = wall_time;
    h->worker[e] = worker;
}

void sp_ckpt_freq_append(sp_ckpt_freq *f, const double *row)
{
    if (f->n_iter == f->cap) {
        f->cap = next_cap(f->cap);
        grow((void **)&f->per_iter, f->cap, (size_t)f->n_layers, sizeof *f->per_iter);
    }
    memcpy(f->per_iter + f->n_iter * (size_t)f->n_layers, row, (size_t)f->n_layers * sizeof *row);
    f->n_iter++;
}

void sp_ckpt_best_append(sp_ckpt_best *b, int64_t evaluation, double fitness, const sp_mask *mask)
{
    if (b->n == b->cap) {
        b->cap = next_cap(b->cap);
        grow((void **)&b->evaluation, b->cap, 1, sizeof *b->evaluation);
        grow((void **)&b->fitness, b->cap, 1, sizeof *b->fitness);
        grow((void **)&b->mask, b->cap, 1, sizeof *b->mask);
    }
    b->evaluation[b->n] = evaluation;
    b->fitness[b->n] = fitness;
    b->mask[b->n] = *mask;
    b->n++;
}

/* The root checksum covers every root attribute (as text) plus the sum and count of the
 * per-dataset checksums, so a dataset removed, added or altered, or a changed attribute, is
 * detected. Order of datasets does not matter (a sum). */
uint64_t sp_ckpt_root_checksum(const sp_ckpt *c, const char *created, const char *updated,
                               uint64_t dataset_sum, int64_t dataset_count)
{
    char head[1024];
    snprintf(head, sizeof head,
             "schema=%" PRId64 "|program=%s|job_name=%s|job_hash=%s|fingerprint=%s|algorithm=%s"
             "|status=%s|iteration=%" PRId64 "|n_layers=%d|minimize=%d|created=%s|updated=%s"
             "|datasets=%" PRId64 "|sum=%016" PRIx64,
             c->schema_version, c->program_version ? c->program_version : SP_CKPT_PROGRAM_VERSION,
             c->job_name ? c->job_name : "", c->job_hash,
             c->model_fingerprint ? c->model_fingerprint : "", c->algorithm ? c->algorithm : "",
             sp_ckpt_status_name(c->status), c->iteration, c->n_layers, c->minimize, created,
             updated, dataset_count, dataset_sum);
    uint64_t h = sp_ckpt_fnv1a(SP_CKPT_FNV_OFFSET, head, strlen(head));
    /* Long fields hashed whole (the text above may truncate them). */
    if (c->job_name) h = sp_ckpt_fnv1a(h, c->job_name, strlen(c->job_name) + 1);
    if (c->model_fingerprint)
        h = sp_ckpt_fnv1a(h, c->model_fingerprint, strlen(c->model_fingerprint) + 1);
    for (int i = 0; i < c->history.n_metrics; i++)
        h = sp_ckpt_fnv1a(h, c->history.metric_names[i], strlen(c->history.metric_names[i]) + 1);
    return h;
}

/* Checksum of one dataset: its absolute path, element type, rank, dims and raw bytes (host
 * order; the file is little-endian and so are our targets). */
uint64_t sp_ckpt_dataset_checksum(const char *path, int type, int rank, const uint64_t dims[2],
                                  const void *data, size_t bytes)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint checksums assume a little-endian host"
#endif
    uint64_t h = sp_ckpt_fnv1a(SP_CKPT_FNV_OFFSET, path, strlen(path) + 1);
    unsigned char tr[2] = {(unsigned char)type, (unsigned char)rank};
    h = sp_ckpt_fnv1a(h, tr, 2);
    for (int i = 0; i < rank; i++) h = sp_ckpt_fnv1a(h, &dims[i], 8);
    return sp_ckpt_fnv1a(h, data, bytes);
}
