/* checkpoint_io.c — writing a checkpoint atomically (temp file, fsync, keep .prev, rename,
 * fsync the directory) and the sp_state <-> /state adapter. Every dataset gets a "checksum"
 * attribute (FNV-1a 64 of path, type, shape and bytes); the root "checksum" covers the root
 * attributes and the sum of all dataset checksums. Reading is in checkpoint_read.c. */
#include <errno.h>
#include <fcntl.h>
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
    uint64_t sum;  /* sum of dataset checksums */
    int64_t count; /* number of datasets */
} wctx;

/* Writes dataset at absolute path `dpath` with its checksum attribute. */
/* Records dataset dpath's checksum h: its "checksum" attribute and the running sum / count. */
static int put_checksum(wctx *w, const char *dpath, uint64_t h, sp_error *err)
{
    char hex[17];
    sp_ckpt_hex64(h, hex);
    if (sp_h5_attr_write_str(w->file, dpath + 1, "checksum", hex, err) < 0) return -1;
    w->sum += h;
    w->count++;
    return 0;
}

static int put_array(wctx *w, const char *dpath, sp_h5_dtype t, int rank, const uint64_t dims[2],
                     const void *data, sp_error *err)
{
    size_t n = 1, bytes = 0;
    for (int i = 0; i < rank; i++)
        if (sp_mul_size(n, (size_t)dims[i], &n) < 0)
            return sp_error_set(err, "dataset %s: size overflows", dpath);
    if (sp_mul_size(n, sp_h5_dtype_size(t), &bytes) < 0)
        return sp_error_set(err, "dataset %s: size overflows", dpath);
    if (sp_h5_write_array(w->file, dpath + 1, t, rank, dims, data, err) < 0) return -1;
    return put_checksum(w, dpath, sp_ckpt_dataset_checksum(dpath, (int)t, rank, dims, data, bytes),
                        err);
}

static int put_1d(wctx *w, const char *dpath, sp_h5_dtype t, size_t n, const void *data,
                  sp_error *err)
{
    uint64_t dims[2] = {n, 1};
    return put_array(w, dpath, t, 1, dims, data, err);
}

/* Masks [n] -> u8 [n x L] of 0/1. */
static int put_masks(wctx *w, const char *dpath, const sp_mask *m, size_t n, int n_layers,
                     sp_error *err)
{
    size_t bytes = 0;
    SP_ASSERT(sp_mul_size(n, (size_t)n_layers, &bytes) == 0);
    uint8_t *buf = sp_xmalloc(bytes ? bytes : 1);
    for (size_t e = 0; e < n; e++)
        for (int l = 0; l < n_layers; l++)
            buf[e * (size_t)n_layers + (size_t)l] = (uint8_t)sp_mask_test(&m[e], l);
    uint64_t dims[2] = {n, (uint64_t)n_layers};
    int rc = put_array(w, dpath, SP_H5_U8, 2, dims, buf, err);
    free(buf);
    return rc;
}

static int put_text(wctx *w, const char *dpath, const char *text, sp_error *err)
{
    if (sp_h5_write_text(w->file, dpath + 1, text, err) < 0) return -1;
    return put_checksum(
        w, dpath, sp_ckpt_dataset_checksum(dpath, SP_CKPT_TEXT_TYPE, 0, NULL, text, strlen(text)),
        err);
}

/* ---- the state adapter ----------------------------------------------------------------- */

int sp_ckpt_write_state(hid_t group, const char *group_path, const sp_state *s, uint64_t *sum,
                        int64_t *count, sp_error *err)
{
    wctx w = {.file = group, .sum = 0, .count = 0};
    for (size_t i = 0; i < s->n; i++) {
        const sp_state_entry *e = &s->entries[i];
        char dpath[600];
        snprintf(dpath, sizeof dpath, "%s/%s", group_path, e->name);
        uint64_t dims[2] = {e->dims[0], e->dims[1]};
        /* Paths are relative to `group`: write at e->name, checksum over the absolute path. */
        size_t n = e->count, bytes = 0;
        if (sp_mul_size(n, sp_state_type_size(e->type), &bytes) < 0)
            return sp_error_set(err, "state entry %s: size overflows", e->name);
        sp_h5_dtype t = (sp_h5_dtype)e->type;
        if (sp_h5_write_array(group, e->name, t, e->ndim, dims, e->data, err) < 0)
            return sp_error_wrap(err, "state entry %s", e->name);
        uint64_t h = sp_ckpt_dataset_checksum(dpath, (int)t, e->ndim, dims, e->data, bytes);
        char hex[17];
        sp_ckpt_hex64(h, hex);
        if (sp_h5_attr_write_str(group, e->name, "checksum", hex, err) < 0) return -1;
        w.sum += h;
        w.count++;
    }
    *sum += w.sum;
    *count += w.count;
    return 0;
}

/* ---- writing the file ------------------------------------------------------------------ */

static void iso_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm))
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    else
        snprintf(out, 32, "%" PRId64, t);
}

static int write_history(wctx *w, const sp_ckpt *c, sp_error *err)
{
    const sp_ckpt_history *h = &c->history;
    uint64_t mdims[2] = {h->n, (uint64_t)h->n_metrics};
    if (put_masks(w, "/history/mask", h->mask, h->n, c->n_layers, err) < 0 ||
        put_1d(w, "/history/fidelity", SP_H5_I64, h->n, h->fidelity, err) < 0 ||
        put_1d(w, "/history/iteration", SP_H5_I64, h->n, h->iteration, err) < 0 ||
        put_1d(w, "/history/fitness", SP_H5_F64, h->n, h->fitness, err) < 0 ||
        put_array(w, "/history/metrics", SP_H5_F64, 2, mdims, h->metrics, err) < 0 ||
        put_1d(w, "/history/wall_time", SP_H5_F64, h->n, h->wall_time, err) < 0 ||
        put_1d(w, "/history/worker", SP_H5_I64, h->n, h->worker, err) < 0)
        return -1;
    return sp_h5_attr_write_strs(w->file, "history/metrics", "metric_names",
                                 (const char *const *)h->metric_names, (size_t)h->n_metrics, err);
}

static int write_parts(wctx *w, const sp_ckpt *c, sp_error *err)
{
    if (put_text(w, "/job/text", c->job_text ? c->job_text : "", err) < 0) return -1;
    hid_t g = sp_h5_group_require(w->file, "state", err);
    if (g < 0) return -1;
    int rc = sp_ckpt_write_state(g, "/state", &c->state, &w->sum, &w->count, err);
    H5Gclose(g);
    if (rc < 0 || write_history(w, c, err) < 0) return -1;
    const sp_ckpt_freq *f = &c->freq;
    uint64_t fdims[2] = {f->n_iter, (uint64_t)c->n_layers};
    if (put_array(w, "/frequencies/per_iteration", SP_H5_F64, 2, fdims, f->per_iter, err) < 0 ||
        put_1d(w, "/frequencies/overall", SP_H5_F64, (size_t)c->n_layers, f->overall, err) < 0)
        return -1;
    const sp_ckpt_best *b = &c->best;
    if (put_1d(w, "/best/evaluation", SP_H5_I64, b->n, b->evaluation, err) < 0 ||
        put_1d(w, "/best/fitness", SP_H5_F64, b->n, b->fitness, err) < 0 ||
        put_masks(w, "/best/mask", b->mask, b->n, c->n_layers, err) < 0)
        return -1;
    return 0;
}

static int write_root(wctx *w, const sp_ckpt *c, sp_error *err)
{
    sp_ckpt hdr = *c; /* shallow: only scalar fields are changed */
    hdr.schema_version = SP_CKPT_SCHEMA_VERSION;
    hdr.program_version = NULL;
    char created[32], updated[32], hex[17];
    int64_t now = (int64_t)time(NULL);
    iso_time(c->created ? c->created : now, created);
    iso_time(now, updated);
    sp_ckpt_hex64(sp_ckpt_root_checksum(&hdr, created, updated, w->sum, w->count), hex);
    hid_t f = w->file;
    if (sp_h5_attr_write_i64(f, ".", "schema_version", SP_CKPT_SCHEMA_VERSION, err) < 0 ||
        sp_h5_attr_write_str(f, ".", "swarmprune_version", SP_CKPT_PROGRAM_VERSION, err) < 0 ||
        sp_h5_attr_write_str(f, ".", "job_name", c->job_name ? c->job_name : "", err) < 0 ||
        sp_h5_attr_write_str(f, ".", "job_hash", c->job_hash, err) < 0 ||
        sp_h5_attr_write_str(f, ".", "model_fingerprint",
                             c->model_fingerprint ? c->model_fingerprint : "", err) < 0 ||
        sp_h5_attr_write_str(f, ".", "algorithm", c->algorithm ? c->algorithm : "", err) < 0 ||
        sp_h5_attr_write_str(f, ".", "status", sp_ckpt_status_name(c->status), err) < 0 ||
        sp_h5_attr_write_i64(f, ".", "iteration", c->iteration, err) < 0 ||
        sp_h5_attr_write_i64(f, ".", "n_layers", c->n_layers, err) < 0 ||
        sp_h5_attr_write_str(f, ".", "fitness_goal", c->minimize ? "minimize" : "maximize",
                             err) < 0 ||
        sp_h5_attr_write_str(f, ".", "created", created, err) < 0 ||
        sp_h5_attr_write_str(f, ".", "updated", updated, err) < 0 ||
        sp_h5_attr_write_i64(f, ".", "n_datasets", w->count, err) < 0 ||
        sp_h5_attr_write_str(f, ".", "checksum", hex, err) < 0)
        return -1;
    return 0;
}

/* About the bytes of c's datasets (the in-memory image's growth step, h5seal.h). */
static size_t size_hint(const sp_ckpt *c)
{
    size_t L = (size_t)c->n_layers, M = (size_t)c->history.n_metrics;
    size_t bytes = strlen(c->job_text) + 4096 + L * sizeof(double);
    bytes += c->history.n * (sizeof(sp_mask) + (5 + M) * 8);
    bytes += c->freq.n_iter * L * sizeof(double);
    bytes += c->best.n * (sizeof(sp_mask) + 16);
    for (size_t i = 0; i < c->state.n; i++) bytes += 64 + c->state.entries[i].count * 8;
    return bytes;
}

/* Writes the whole checkpoint into a new file at `path` and closes it. */
static int write_file(const char *path, const sp_ckpt *c, sp_error *err)
{
    SP_ASSERT(c->n_layers >= 1 && c->n_layers <= SP_MAX_LAYERS);
    SP_ASSERT(c->history.n_layers == c->n_layers && c->freq.n_layers == c->n_layers);
    SP_ASSERT_MSG(c->job_text && strlen(c->job_hash) == 16,
                  "sp_ckpt_write: call sp_ckpt_set_job before writing");
    /* Built in memory, sealed with a whole-file checksum, written with write(2) (h5seal.h). */
    wctx w = {.file = sp_h5seal_create(path, size_hint(c), err), .sum = 0, .count = 0};
    if (w.file < 0) return -1;
    if (write_parts(&w, c, err) < 0 || write_root(&w, c, err) < 0) {
        H5Fclose(w.file); /* in memory: cannot fail on a full disk */
        return -1;
    }
    /* A leaked object id would keep the file open past H5Fclose (and the image incomplete). */
    SP_ASSERT(H5Fget_obj_count(w.file, H5F_OBJ_ALL) == 1);
    return sp_h5seal_save(w.file, path, err);
}

static int fsync_path(const char *path, int is_dir, sp_error *err)
{
    int fd = open(path, (is_dir ? O_DIRECTORY : 0) | O_RDONLY);
    if (fd < 0) return sp_error_set(err, "%s: cannot open for fsync: %s", path, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    /* Some filesystems refuse fsync on directories (EINVAL): the data itself is synced. */
    if (rc < 0 && !(is_dir && (e == EINVAL || e == EBADF)))
        return sp_error_set(err, "%s: fsync failed: %s", path, strerror(e));
    return 0;
}

static void dir_of(const char *path, char *out, size_t size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, size, ".");
    else if (slash == path)
        snprintf(out, size, "/");
    else
        snprintf(out, size, "%.*s", (int)(slash - path), path);
}

/* Keeps the current `path` as path.prev (hard link so that `path` never disappears). */
static int keep_prev(const char *path, const char *prev, sp_error *err)
{
    if (access(path, F_OK) != 0) return 0; /* first write: nothing to keep */
    if (unlink(prev) < 0 && errno != ENOENT)
        return sp_error_set(err, "%s: cannot remove: %s", prev, strerror(errno));
    if (link(path, prev) == 0) return 0;
    if (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP && errno != EXDEV)
        return sp_error_set(err, "%s: cannot link to %s: %s", path, prev, strerror(errno));
    if (rename(path, prev) < 0) /* no hard links here: a short window without `path` */
        return sp_error_set(err, "%s: cannot rename to %s: %s", path, prev, strerror(errno));
    return 0;
}

int sp_ckpt_write_until(const char *path, const sp_ckpt *c, sp_ckpt_stop stop, sp_error *err)
{
    char tmp[4096], prev[4096], dir[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return sp_error_set(err, "%s: path too long", path);
    snprintf(prev, sizeof prev, "%s.prev", path);
    dir_of(path, dir, sizeof dir);
    if (write_file(tmp, c, err) < 0) {
        unlink(tmp);
        return sp_error_wrap(err, "writing checkpoint %s", path);
    }
    if (stop == SP_CKPT_STOP_BEFORE_FSYNC) return 0;
    if (fsync_path(tmp, 0, err) < 0) {
        unlink(tmp);
        return -1;
    }
    if (stop == SP_CKPT_STOP_BEFORE_PREV) return 0;
    if (keep_prev(path, prev, err) < 0) {
        unlink(tmp);
        return -1;
    }
    if (stop == SP_CKPT_STOP_BEFORE_RENAME) return 0;
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return sp_error_set(err, "%s: cannot rename %s over it: %s", path, tmp, strerror(e));
    }
    return fsync_path(dir, 1, err);
}

int sp_ckpt_write(const char *path, const sp_ckpt *c, sp_error *err)
{
    return sp_ckpt_write_until(path, c, SP_CKPT_STOP_NONE, err);
}
