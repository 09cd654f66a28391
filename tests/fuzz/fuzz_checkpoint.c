/* fuzz_checkpoint.c — libFuzzer harness: the checkpoint reader (common/checkpoint_read.c) in
 * front of and behind the whole-file seal (h5seal.c).
 *   First byte even: the rest is the file as is (the seal must refuse anything not sealed before
 *     HDF5 sees it).
 *   First byte odd: the input describes a checkpoint (layers, metrics, history, frequencies,
 *     best trajectory, state entries, strings), written with sp_ckpt_write and read back — the
 *     reader must accept the writer's files and return the same contents — then edited with the
 *     HDF5 API (datasets deleted or replaced by others of any type and shape with a correct
 *     per-dataset checksum, root attributes deleted or retyped, checksums overwritten), resealed
 *     and read again: HDF5 only ever parses files HDF5 wrote, so what is fuzzed is our reader's
 *     handling of well-formed files with wrong contents. */
#include <hdf5.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/checkpoint.h"
#include "common/checkpoint_internal.h"
#include "common/h5io.h"
#include "common/h5seal.h"
#include "fuzz_util.h"

typedef struct {
    const uint8_t *p;
    size_t n;
} fz_in;

static uint8_t fz_u8(fz_in *in)
{
    if (in->n == 0) return 0;
    in->n--;
    return *in->p++;
}
static uint64_t fz_u64(fz_in *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | fz_u8(in);
    return v;
}
static double fz_f64(fz_in *in)
{
    uint64_t u = fz_u64(in);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}
/* A string of up to max-1 bytes (stops at a NUL in the input). */
static void fz_str(fz_in *in, char *out, size_t max)
{
    size_t len = fz_u8(in) % max, i = 0;
    for (; i < len && in->n; i++) out[i] = (char)fz_u8(in);
    out[i] = '\0';
}

static void build_history(fz_in *in, sp_ckpt *c)
{
    int L = c->n_layers, M = c->history.n_metrics, nh = fz_u8(in) % 12;
    double metrics[4];
    for (int e = 0; e < nh; e++) {
        sp_mask m;
        memset(&m, 0, sizeof m);
        uint64_t bits = fz_u64(in);
        for (int l = 0; l < L; l++)
            if (bits >> (l % 64) & 1) sp_mask_set(&m, l);
        for (int k = 0; k < M; k++) metrics[k] = fz_f64(in);
        sp_ckpt_history_append(&c->history, &m, (int64_t)fz_u64(in), (int64_t)fz_u64(in),
                               fz_f64(in), metrics, fz_f64(in), (int64_t)fz_u8(in));
        if (fz_u8(in) & 1) sp_ckpt_best_append(&c->best, e + 1, c->history.fitness[e], &m);
    }
    int nf = fz_u8(in) % 4;
    double *row = calloc((size_t)L, sizeof *row);
    for (int i = 0; i < nf; i++) {
        for (int l = 0; l < L; l++) row[l] = (double)fz_u8(in) / 255.0;
        sp_ckpt_freq_append(&c->freq, row);
    }
    free(row);
    for (int l = 0; l < L; l++) c->freq.overall[l] = fz_f64(in);
}

static void build_state(fz_in *in, sp_ckpt *c)
{
    int ns = fz_u8(in) % 4;
    uint8_t data[8 * 64];
    for (int i = 0; i < ns; i++) {
        char name[40];
        if (fz_u8(in) & 1) fz_str(in, name, sizeof name);
        else snprintf(name, sizeof name, "alg/e%d", i);
        size_t dims[2] = {fz_u8(in) % 8, fz_u8(in) % 8};
        int type = fz_u8(in) % 3, ndim = fz_u8(in) % 3;
        for (size_t b = 0; b < sizeof data; b++) data[b] = fz_u8(in);
        sp_error err = {{0}};
        sp_state_put(&c->state, name, (sp_state_type)type, ndim, dims, data, &err);
    }
}

/* A checkpoint from the input (every field through the public building API). */
static void build(fz_in *in, sp_ckpt *c)
{
    int L = 1 + fz_u8(in) % 40, M = fz_u8(in) % 4;
    if (L == 40) L = SP_MAX_LAYERS;
    char names[4][16], name[64], text[256], fp[64], alg[16];
    const char *np[4];
    for (int k = 0; k < M; k++) fz_str(in, names[k], sizeof names[k]), np[k] = names[k];
    sp_ckpt_init(c, L, M, np);
    fz_str(in, name, sizeof name);
    fz_str(in, text, sizeof text);
    fz_str(in, fp, sizeof fp);
    fz_str(in, alg, sizeof alg);
    sp_ckpt_set_job(c, name, text);
    sp_ckpt_set_model(c, fp);
    sp_ckpt_set_algorithm(c, alg);
    c->status = (sp_ckpt_status)(fz_u8(in) % 3);
    c->iteration = (int64_t)fz_u64(in);
    c->minimize = fz_u8(in) & 1;
    build_history(in, c);
    build_state(in, c);
}

static int same_f64(const double *a, const double *b, size_t n)
{
    return n == 0 || memcmp(a, b, n * sizeof *a) == 0;
}

/* The reader must return what the writer was given. */
static void check_round_trip(const sp_ckpt *w, const sp_ckpt *r)
{
    const sp_ckpt_history *a = &w->history, *b = &r->history;
    int ok = r->n_layers == w->n_layers && b->n == a->n && b->n_metrics == a->n_metrics &&
             strcmp(r->job_text, w->job_text) == 0 && strcmp(r->job_hash, w->job_hash) == 0 &&
             strcmp(r->model_fingerprint, w->model_fingerprint) == 0 &&
             strcmp(r->algorithm, w->algorithm) == 0 && r->status == w->status &&
             r->iteration == w->iteration && r->minimize == w->minimize &&
             same_f64(b->fitness, a->fitness, a->n) &&
             same_f64(b->metrics, a->metrics, a->n * (size_t)a->n_metrics) &&
             r->freq.n_iter == w->freq.n_iter && r->best.n == w->best.n &&
             same_f64(r->freq.overall, w->freq.overall, (size_t)w->n_layers) &&
             r->state.n == w->state.n;
    for (size_t e = 0; ok && e < a->n; e++)
        ok = memcmp(&a->mask[e], &b->mask[e], sizeof a->mask[e]) == 0 &&
             a->fidelity[e] == b->fidelity[e] && a->worker[e] == b->worker[e];
    if (!ok) {
        fprintf(stderr, "checkpoint read back differs from what was written\n");
        abort();
    }
}

static const char *const datasets[] = {
    "history/fitness", "history/fidelity", "history/iteration", "history/wall_time",
    "history/worker", "history/metrics", "history/mask", "frequencies/per_iteration",
    "frequencies/overall", "best/fitness", "best/evaluation", "best/mask", "job/text",
    "state/alg/e0", "state/alg", "state/x"};
static const char *const root_attrs[] = {
    "schema_version", "swarmprune_version", "n_layers", "job_name", "job_hash",
    "model_fingerprint", "algorithm", "status", "iteration", "fitness_goal", "created",
    "updated", "n_datasets", "checksum"};
#define N_OF(a) (int)(sizeof(a) / sizeof(a[0]))

/* Replaces dataset `rel` by one of the input's type and shape, with a matching checksum. */
static void edit_replace(fz_in *in, hid_t f, const char *rel)
{
    int exists = 0;
    sp_error err = {{0}};
    if (sp_h5_exists(f, rel, &exists, &err) == 0 && exists) H5Ldelete(f, rel, H5P_DEFAULT);
    sp_h5_dtype t = (sp_h5_dtype)(fz_u8(in) % 3);
    int rank = fz_u8(in) % 3;
    uint64_t dims[2] = {rank >= 1 ? fz_u8(in) % 9 : 1, rank >= 2 ? fz_u8(in) % 300 : 1};
    size_t bytes = sp_h5_dtype_size(t) * (size_t)dims[0] * (size_t)dims[1];
    uint8_t *data = malloc(bytes ? bytes : 1);
    for (size_t b = 0; b < bytes; b++) data[b] = fz_u8(in);
    if (sp_h5_write_array(f, rel, t, rank, dims, data, &err) == 0) {
        char dpath[128], hex[17];
        snprintf(dpath, sizeof dpath, "/%s", rel);
        sp_ckpt_hex64(sp_ckpt_dataset_checksum(dpath, (int)t, rank, dims, data, bytes), hex);
        sp_h5_attr_write_str(f, rel, "checksum", hex, &err);
    }
    free(data);
}

static void edit_attr(fz_in *in, hid_t f, const char *obj, const char *name, int action)
{
    sp_error err = {{0}};
    int exists = 0;
    if (sp_h5_attr_exists(f, obj, name, &exists, &err) == 0 && exists)
        H5Adelete_by_name(f, obj, name, H5P_DEFAULT);
    char s[64];
    if (action == 1) {
        fz_str(in, s, sizeof s);
        sp_h5_attr_write_str(f, obj, name, s, &err);
    } else if (action == 2) {
        sp_h5_attr_write_i64(f, obj, name, (int64_t)fz_u64(in), &err);
    } else if (action == 3) {
        char a[16], b[16];
        const char *v[2] = {a, b};
        fz_str(in, a, sizeof a), fz_str(in, b, sizeof b);
        sp_h5_attr_write_strs(f, obj, name, v, fz_u8(in) % 3, &err);
    }
}

/* Edits the sealed file at path with the HDF5 API, then reseals it. */
static void edit(fz_in *in, const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) abort(); /* the writer's own file */
    int n = 1 + fz_u8(in) % 4;
    for (int i = 0; i < n && in->n; i++) {
        uint8_t op = fz_u8(in), target = fz_u8(in);
        if (op % 4 == 0) { /* a dataset: delete or replace */
            const char *rel = datasets[target % N_OF(datasets)];
            int exists = 0;
            sp_error err = {{0}};
            if (op & 4) edit_replace(in, f, rel);
            else if (sp_h5_exists(f, rel, &exists, &err) == 0 && exists)
                H5Ldelete(f, rel, H5P_DEFAULT);
        } else if (op % 4 == 1) { /* a dataset's checksum attribute */
            edit_attr(in, f, datasets[target % N_OF(datasets)], "checksum", 1 + (op >> 2) % 3);
        } else if (op % 4 == 2) { /* the metric names */
            edit_attr(in, f, "history/metrics", "metric_names", (op >> 2) % 4);
        } else { /* a root attribute: delete, string, integer, string array */
            edit_attr(in, f, ".", root_attrs[target % N_OF(root_attrs)], (op >> 2) % 4);
        }
    }
    if (H5Fclose(f) < 0) abort();
    sp_error err = {{0}};
    if (sp_h5seal_reseal(path, &err) != 0) abort();
}

static void read_once(const char *path)
{
    sp_ckpt r;
    sp_error err = {{0}};
    if (sp_ckpt_read(path, NULL, NULL, &r, &err) != 0) fuzz_note("checkpoint", err.msg);
    sp_ckpt_free(&r);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* as main does: errors travel in our messages */
    /* HDF5's free lists may keep every block it frees (the default limits release them), so the
     * 1 MiB conversion buffers and cache structures of each file open are reused instead of
     * mapped, zeroed and unmapped again: ~1.8x the executions/s (docs/RELIABILITY.md). */
    H5set_free_list_limits(-1, -1, -1, -1, -1, -1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    if (size == 0) return 0;
    if ((data[0] & 1) == 0) {
        fuzz_write("results.h5", data + 1, size - 1, path, sizeof path);
        read_once(path);
        return 0;
    }
    fz_in in = {data + 1, size - 1};
    sp_ckpt c;
    build(&in, &c);
    fuzz_path(path, sizeof path, "results.h5");
    unlink(path);
    sp_error err = {{0}};
    if (sp_ckpt_write(path, &c, &err) != 0) {
        fuzz_note("checkpoint write", err.msg);
        sp_ckpt_free(&c);
        return 0;
    }
    sp_ckpt r;
    if (sp_ckpt_read(path, c.job_hash, c.model_fingerprint, &r, &err) != 0) {
        fprintf(stderr, "the writer's checkpoint is refused: %s\n", err.msg);
        abort();
    }
    check_round_trip(&c, &r);
    sp_ckpt_free(&r);
    sp_ckpt_free(&c);
    if (in.n == 0) return 0;
    edit(&in, path);
    read_once(path);
    return 0;
}
