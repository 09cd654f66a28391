/* checkpoint_read.c — reading and verifying a checkpoint: schema version, per-dataset and root
 * checksums, shapes consistent with n_layers / E / M, then the job hash and model fingerprint
 * the caller expects. Every refusal names the file and the field; when X.h5.prev exists the
 * message points to it. */
#define _GNU_SOURCE /* timegm, strptime */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "checkpoint_internal.h"
#include "h5io.h"
#include "h5seal.h"

typedef struct {
    hid_t file;
    uint64_t sum;  /* sum of verified dataset checksums */
    int64_t count; /* datasets verified */
} rctx;

/* Compares the stored "checksum" attribute of loc/rel with the recomputed value. */
static int verify(rctx *r, hid_t loc, const char *rel, const char *dpath, int type, int rank,
                  const uint64_t dims[2], const void *data, size_t bytes, sp_error *err)
{
    int found = 0;
    char *stored = NULL, hex[17];
    if (sp_h5_attr_exists(loc, rel, "checksum", &found, err) < 0) return -1;
    if (!found) return sp_error_set(err, "dataset %s: no checksum attribute", dpath);
    if (sp_h5_attr_read_str(loc, rel, "checksum", &stored, err) < 0) return -1;
    uint64_t h = sp_ckpt_dataset_checksum(dpath, type, rank, dims, data, bytes);
    sp_ckpt_hex64(h, hex);
    int same = strcmp(stored, hex) == 0;
    if (!same)
        sp_error_set(err, "dataset %s: checksum mismatch (stored %s, computed %s): the file is "
                          "damaged", dpath, stored, hex);
    free(stored);
    if (!same) return -1;
    r->sum += h;
    r->count++;
    return 0;
}

static size_t nbytes(sp_h5_dtype t, int rank, const uint64_t dims[2])
{
    size_t n = sp_h5_dtype_size(t);
    for (int i = 0; i < rank; i++) SP_ASSERT(sp_mul_size(n, (size_t)dims[i], &n) == 0);
    return n; /* read_array already checked that the shape fits in memory */
}

/* Reads an absolute-path dataset of the given type/rank, verifies it, checks dims[0] == rows
 * (unless rows < 0) and dims[1] == cols (unless cols < 0). */
static int get_array(rctx *r, const char *dpath, sp_h5_dtype t, int rank, int64_t rows,
                     int64_t cols, uint64_t dims[2], void **data, sp_error *err)
{
    int rk = 0;
    if (sp_h5_read_array(r->file, dpath + 1, t, rank, &rk, dims, data, err) < 0) return -1;
    int rc = verify(r, r->file, dpath + 1, dpath, (int)t, rk, dims, *data, nbytes(t, rk, dims), err);
    if (rc == 0 && rows >= 0 && dims[0] != (uint64_t)rows)
        rc = sp_error_set(err, "dataset %s: %" PRIu64 " rows, expected %" PRId64, dpath, dims[0],
                          rows);
    if (rc == 0 && cols >= 0 && dims[1] != (uint64_t)cols)
        rc = sp_error_set(err, "dataset %s: %" PRIu64 " columns, expected %" PRId64, dpath,
                          dims[1], cols);
    if (rc < 0) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

/* u8 [rows x L] of 0/1 -> sp_mask[rows]. */
static int get_masks(rctx *r, const char *dpath, int64_t rows, int n_layers, sp_mask **out,
                     sp_error *err)
{
    uint64_t dims[2];
    void *raw = NULL;
    if (get_array(r, dpath, SP_H5_U8, 2, rows, n_layers, dims, &raw, err) < 0) return -1;
    const uint8_t *u = raw;
    sp_mask *m = sp_xcalloc((size_t)rows + 1, sizeof *m);
    for (size_t e = 0; e < (size_t)rows; e++)
        for (int l = 0; l < n_layers; l++) {
            uint8_t v = u[e * (size_t)n_layers + (size_t)l];
            if (v > 1) {
                free(raw);
                free(m);
                return sp_error_set(err, "dataset %s: element [%zu][%d] is %u, expected 0 or 1",
                                    dpath, e, l, v);
            }
            if (v) sp_mask_set(&m[e], l);
        }
    free(raw);
    *out = m;
    return 0;
}

static int read_history(rctx *r, sp_ckpt *c, sp_error *err)
{
    sp_ckpt_history *h = &c->history;
    uint64_t dims[2];
    void *p = NULL;
    if (get_array(r, "/history/fitness", SP_H5_F64, 1, -1, -1, dims, &p, err) < 0) return -1;
    h->fitness = p;
    int64_t e = (int64_t)dims[0];
    h->n = h->cap = (size_t)e;
#define GET1(field, path, type)                                                              \
    do {                                                                                     \
        if (get_array(r, path, type, 1, e, -1, dims, &p, err) < 0) return -1;                \
        h->field = p;                                                                        \
    } while (0)
    GET1(fidelity, "/history/fidelity", SP_H5_I64);
    GET1(iteration, "/history/iteration", SP_H5_I64);
    GET1(wall_time, "/history/wall_time", SP_H5_F64);
    GET1(worker, "/history/worker", SP_H5_I64);
#undef GET1
    if (get_array(r, "/history/metrics", SP_H5_F64, 2, e, h->n_metrics, dims, &p, err) < 0)
        return -1;
    h->metrics = p;
    return get_masks(r, "/history/mask", e, c->n_layers, &h->mask, err);
}

static int read_freq_best(rctx *r, sp_ckpt *c, sp_error *err)
{
    uint64_t dims[2];
    void *p = NULL;
    if (get_array(r, "/frequencies/per_iteration", SP_H5_F64, 2, -1, c->n_layers, dims, &p, err) < 0)
        return -1;
    c->freq.per_iter = p;
    c->freq.n_iter = c->freq.cap = (size_t)dims[0];
    if (get_array(r, "/frequencies/overall", SP_H5_F64, 1, c->n_layers, -1, dims, &p, err) < 0)
        return -1;
    free(c->freq.overall);
    c->freq.overall = p;
    sp_ckpt_best *b = &c->best;
    if (get_array(r, "/best/fitness", SP_H5_F64, 1, -1, -1, dims, &p, err) < 0) return -1;
    b->fitness = p;
    b->n = b->cap = (size_t)dims[0];
    if (get_array(r, "/best/evaluation", SP_H5_I64, 1, (int64_t)b->n, -1, dims, &p, err) < 0)
        return -1;
    b->evaluation = p;
    return get_masks(r, "/best/mask", (int64_t)b->n, c->n_layers, &b->mask, err);
}

/* ---- the /state adapter (read side) ---------------------------------------------------- */

typedef struct {
    rctx *r;
    const char *group_path; /* "/state" */
    const char *prefix;     /* entry-name prefix for this level ("" or "pso/") */
    sp_state *s;
    sp_error *err;
} state_walk;

static herr_t state_visit(hid_t group, const char *name, const H5L_info_t *info, void *data);

static int read_state_entry(state_walk *w, hid_t group, const char *name, const char *entry)
{
    char dpath[600];
    snprintf(dpath, sizeof dpath, "%s/%s", w->group_path, entry);
    sp_h5_dtype t;
    int rank = 0;
    uint64_t dims[2];
    void *data = NULL;
    if (sp_h5_array_info(group, name, &t, &rank, dims, w->err) < 0 ||
        sp_h5_read_array(group, name, t, rank, NULL, dims, &data, w->err) < 0)
        return sp_error_wrap(w->err, "state entry %s", entry);
    int rc = verify(w->r, group, name, dpath, (int)t, rank, dims, data, nbytes(t, rank, dims), w->err);
    size_t sdims[2] = {(size_t)dims[0], (size_t)dims[1]};
    if (rc == 0) rc = sp_state_put(w->s, entry, (sp_state_type)t, rank, sdims, data, w->err);
    free(data);
    return rc;
}

static herr_t state_visit(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    state_walk *w = data;
    char entry[SP_STATE_NAME_MAX + 8];
    if (snprintf(entry, sizeof entry, "%s%s", w->prefix, name) >= SP_STATE_NAME_MAX)
        return sp_error_set(w->err, "state entry %s%s: name too long", w->prefix, name);
    hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
    if (obj < 0) return sp_h5_fail(w->err, "state entry %s: cannot open", entry);
    H5I_type_t kind = H5Iget_type(obj);
    int rc;
    if (kind == H5I_GROUP) {
        char prefix[SP_STATE_NAME_MAX + 16];
        snprintf(prefix, sizeof prefix, "%s/", entry);
        state_walk sub = *w;
        sub.prefix = prefix;
        rc = H5Literate(obj, H5_INDEX_NAME, H5_ITER_INC, NULL, state_visit, &sub) < 0 ? -1 : 0;
    } else if (kind == H5I_DATASET) {
        rc = read_state_entry(w, group, name, entry);
    } else {
        rc = sp_error_set(w->err, "state entry %s: neither a group nor a dataset", entry);
    }
    H5Oclose(obj);
    return rc;
}

int sp_ckpt_read_state(hid_t group, const char *group_path, sp_state *s, uint64_t *sum,
                       int64_t *count, sp_error *err)
{
    rctx r = {.file = group, .sum = 0, .count = 0};
    state_walk w = {.r = &r, .group_path = group_path, .prefix = "", .s = s, .err = err};
    sp_error_clear(err);
    if (H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, NULL, state_visit, &w) < 0) {
        if (err && err->msg[0]) return -1;
        return sp_h5_fail(err, "%s: iterating the group failed", group_path);
    }
    *sum += r.sum;
    *count += r.count;
    return 0;
}

/* ---- root attributes ------------------------------------------------------------------- */

static int64_t parse_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return end && *end == '\0' ? (int64_t)timegm(&tm) : 0;
}

/* Reads the schema version first: a newer file must be refused before anything else. */
static int read_version(hid_t f, sp_ckpt *c, sp_error *err)
{
    int found = 0;
    if (sp_h5_attr_exists(f, ".", "schema_version", &found, err) < 0) return -1;
    if (!found)
        return sp_error_set(err, "not a swarmprune checkpoint (no schema_version attribute)");
    if (sp_h5_attr_read_i64(f, ".", "schema_version", &c->schema_version, err) < 0) return -1;
    if (sp_h5_attr_exists(f, ".", "swarmprune_version", &found, err) < 0) return -1;
    if (found && sp_h5_attr_read_str(f, ".", "swarmprune_version", &c->program_version, err) < 0)
        return -1;
    if (c->schema_version > SP_CKPT_SCHEMA_VERSION)
        return sp_error_set(err, "schema_version %" PRId64 ": written by a newer swarmprune (%s); "
                                 "this build (%s) reads schema_version <= %d",
                            c->schema_version, c->program_version ? c->program_version : "?",
                            SP_CKPT_PROGRAM_VERSION, SP_CKPT_SCHEMA_VERSION);
    if (c->schema_version < 1)
        return sp_error_set(err, "schema_version %" PRId64 " is invalid", c->schema_version);
    return 0;
}

/* n_layers and metric names decide the shapes: read them, then initialise *c. */
static int read_shape_and_init(hid_t f, sp_ckpt *c, sp_error *err)
{
    int64_t L = 0;
    char **names = NULL;
    size_t m = 0;
    if (sp_h5_attr_read_i64(f, ".", "n_layers", &L, err) < 0) return -1;
    if (L < 1 || L > SP_MAX_LAYERS)
        return sp_error_set(err, "n_layers %" PRId64 " is outside [1, %d]", L, SP_MAX_LAYERS);
    if (sp_h5_attr_read_strs(f, "history/metrics", "metric_names", &names, &m, err) < 0)
        return -1;
    int64_t sv = c->schema_version;
    char *pv = c->program_version;
    sp_ckpt_init(c, (int)L, (int)m, (const char *const *)names);
    c->schema_version = sv;
    c->program_version = pv;
    sp_h5_strs_free(names, m);
    return 0;
}

static int read_root(hid_t f, sp_ckpt *c, char **created, char **updated, char **sum,
                     int64_t *n_datasets, sp_error *err)
{
    char *job_hash = NULL, *status = NULL, *goal = NULL;
    int rc = -1;
    if (sp_h5_attr_read_str(f, ".", "job_name", &c->job_name, err) < 0 ||
        sp_h5_attr_read_str(f, ".", "job_hash", &job_hash, err) < 0 ||
        sp_h5_attr_read_str(f, ".", "model_fingerprint", &c->model_fingerprint, err) < 0 ||
        sp_h5_attr_read_str(f, ".", "algorithm", &c->algorithm, err) < 0 ||
        sp_h5_attr_read_str(f, ".", "status", &status, err) < 0 ||
        sp_h5_attr_read_i64(f, ".", "iteration", &c->iteration, err) < 0 ||
        sp_h5_attr_read_str(f, ".", "fitness_goal", &goal, err) < 0 ||
        sp_h5_attr_read_str(f, ".", "created", created, err) < 0 ||
        sp_h5_attr_read_str(f, ".", "updated", updated, err) < 0 ||
        sp_h5_attr_read_i64(f, ".", "n_datasets", n_datasets, err) < 0 ||
        sp_h5_attr_read_str(f, ".", "checksum", sum, err) < 0)
        goto done;
    if (strlen(job_hash) != 16) {
        sp_error_set(err, "job_hash \"%.40s\" is not 16 hex digits", job_hash);
        goto done;
    }
    memcpy(c->job_hash, job_hash, 17);
    if (sp_ckpt_status_parse(status, &c->status) < 0) {
        sp_error_set(err, "status \"%.40s\" is not running, stopped or done", status);
        goto done;
    }
    if (strcmp(goal, "minimize") != 0 && strcmp(goal, "maximize") != 0) {
        sp_error_set(err, "fitness_goal \"%.40s\" is not minimize or maximize", goal);
        goto done;
    }
    c->minimize = strcmp(goal, "minimize") == 0;
    c->created = parse_time(*created);
    c->updated = parse_time(*updated);
    rc = 0;
done:
    free(job_hash);
    free(status);
    free(goal);
    return rc;
}

/* ---- the whole file -------------------------------------------------------------------- */

static int read_data(rctx *r, sp_ckpt *c, sp_error *err)
{
    if (sp_h5_read_text(r->file, "job/text", &c->job_text, err) < 0) return -1;
    uint64_t none[2] = {0, 0};
    if (verify(r, r->file, "job/text", "/job/text", SP_CKPT_TEXT_TYPE, 0, none, c->job_text,
               strlen(c->job_text), err) < 0)
        return -1;
    hid_t g = H5Gopen2(r->file, "state", H5P_DEFAULT);
    if (g < 0) return sp_h5_fail(err, "group /state: cannot open");
    int rc = sp_ckpt_read_state(g, "/state", &c->state, &r->sum, &r->count, err);
    H5Gclose(g);
    if (rc < 0 || read_history(r, c, err) < 0 || read_freq_best(r, c, err) < 0) return -1;
    return 0;
}

/* Root checksum, then the identity checks the caller asked for. */
static int check_identity(const rctx *r, const sp_ckpt *c, const char *created,
                          const char *updated, const char *sum, int64_t n_datasets,
                          const char *expect_job_hash, const char *expect_fp, sp_error *err)
{
    char hex[17];
    if (n_datasets != r->count)
        return sp_error_set(err, "n_datasets is %" PRId64 " but %" PRId64 " datasets were found: "
                                 "the file is damaged", n_datasets, r->count);
    sp_ckpt_hex64(sp_ckpt_root_checksum(c, created, updated, r->sum, r->count), hex);
    if (strcmp(hex, sum) != 0)
        return sp_error_set(err, "root checksum mismatch (stored %s, computed %s): the root "
                                 "attributes are damaged", sum, hex);
    if (expect_job_hash && strcmp(expect_job_hash, c->job_hash) != 0)
        return sp_error_set(err, "job_hash %s (job \"%s\") differs from this job's %s: the "
                                 "checkpoint belongs to a different job", c->job_hash,
                            c->job_name, expect_job_hash);
    if (expect_fp && strcmp(expect_fp, c->model_fingerprint) != 0)
        return sp_error_set(err, "model_fingerprint %s differs from this model's %s: the "
                                 "checkpoint was written for a different model", c->model_fingerprint,
                            expect_fp);
    return 0;
}

static int read_file(const char *path, const char *expect_job_hash, const char *expect_fp,
                     sp_ckpt *c, sp_error *err)
{
    /* The whole file is verified (seal in the user block) before HDF5 parses any of it. */
    rctx r = {.file = sp_h5seal_open(path, err), .sum = 0, .count = 0};
    if (r.file < 0) return -1;
    char *created = NULL, *updated = NULL, *sum = NULL;
    int64_t n_datasets = 0;
    int rc = -1;
    if (read_version(r.file, c, err) < 0 || read_shape_and_init(r.file, c, err) < 0 ||
        read_root(r.file, c, &created, &updated, &sum, &n_datasets, err) < 0 ||
        read_data(&r, c, err) < 0 ||
        check_identity(&r, c, created, updated, sum, n_datasets, expect_job_hash, expect_fp,
                       err) < 0)
        goto done;
    rc = 0;
done:
    free(created);
    free(updated);
    free(sum);
    if (H5Fclose(r.file) < 0 && rc == 0) rc = sp_h5_fail(err, "closing failed");
    return rc;
}

int sp_ckpt_read(const char *path, const char *expect_job_hash, const char *expect_fingerprint,
                 sp_ckpt *out, sp_error *err)
{
    memset(out, 0, sizeof *out);
    sp_state_init(&out->state);
    if (read_file(path, expect_job_hash, expect_fingerprint, out, err) == 0) return 0;
    sp_error_wrap(err, "checkpoint %s", path);
    char prev[4096];
    size_t n = strlen(path);
    int is_prev = n >= 5 && strcmp(path + n - 5, ".prev") == 0;
    /* Another job or model: the .prev is of that job too; only damage points to it. */
    if (err && (strstr(err->msg, "belongs to a different job") ||
                strstr(err->msg, "written for a different model")))
        return -1;
    if (!is_prev && snprintf(prev, sizeof prev, "%s.prev", path) < (int)sizeof prev &&
        access(prev, R_OK) == 0 && err) {
        size_t len = strlen(err->msg);
        snprintf(err->msg + len, sizeof err->msg - len,
                 "; the previous checkpoint %s may be usable: check it with `swarmprune inspect "
                 "%s`, then copy it over %s and run the same command again", prev, prev, path);
    }
    return -1;
}
