/* heal_checkpoint.c — write / read `heal`'s HDF5 checkpoint (see heal_checkpoint.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/checkpoint.h"
#include "../common/checkpoint_internal.h"
#include "../common/h5io.h"
#include "../common/h5seal.h"
#include "heal_checkpoint.h"

static const char *const hc_sets[3] = {"adapter/params", "adam/m", "adam/v"};

static float *hc_array(const sp_heal_ckpt *c, int k) { return k == 0 ? c->params : k == 1 ? c->m : c->v; }

/* The checksum of dataset k as the search's checkpoints define it (over the f64 bytes). */
static uint64_t hc_sum(int k, const double *data, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "/%s", hc_sets[k]);
    uint64_t dims[2] = {n, 1};
    return sp_ckpt_dataset_checksum(path, SP_H5_F64, 1, dims, data, n * sizeof(double));
}

static int hc_write_arrays(hid_t f, const sp_heal_ckpt *c, sp_error *err)
{
    double *buf = sp_xmalloc((c->n_params ? c->n_params : 1) * sizeof *buf);
    int rc = 0;
    for (int k = 0; rc == 0 && k < 3; k++) {
        const float *a = hc_array(c, k);
        for (size_t i = 0; i < c->n_params; i++) buf[i] = a[i];
        uint64_t dims[2] = {c->n_params, 1};
        char hex[17];
        sp_ckpt_hex64(hc_sum(k, buf, c->n_params), hex);
        rc = sp_h5_write_array(f, hc_sets[k], SP_H5_F64, 1, dims, buf, err) < 0 ||
             sp_h5_attr_write_str(f, hc_sets[k], "checksum", hex, err) < 0;
    }
    free(buf);
    return rc ? -1 : 0;
}

static int hc_write_attrs(hid_t f, const sp_heal_ckpt *c, sp_error *err)
{
    char seed[24], oh[17], dh[17];
    snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
    sp_ckpt_hex64(c->options_hash, oh);
    sp_ckpt_hex64(c->data_hash, dh);
    char nll[40];
    snprintf(nll, sizeof nll, "%.17g", c->last_eval_nll);
    if (sp_h5_attr_write_str(f, ".", "kind", "swarmprune heal checkpoint", err) < 0 ||
        sp_h5_attr_write_i64(f, ".", "schema_version", SP_HEAL_CKPT_SCHEMA, err) < 0 ||
        sp_h5_attr_write_i64(f, ".", "step", c->step, err) < 0 ||
        sp_h5_attr_write_i64(f, ".", "total_steps", c->total_steps, err) < 0 ||
        sp_h5_attr_write_i64(f, ".", "data_position", c->data_pos, err) < 0 ||
        sp_h5_attr_write_str(f, ".", "seed", seed, err) < 0 ||
        sp_h5_attr_write_str(f, ".", "options_hash", oh, err) < 0 ||
        sp_h5_attr_write_str(f, ".", "data_hash", dh, err) < 0 ||
        sp_h5_attr_write_str(f, ".", "model_fingerprint", c->model_fingerprint, err) < 0 ||
        sp_h5_attr_write_str(f, ".", "last_eval_nll", nll, err) < 0)
        return -1;
    return 0;
}

static int hc_fsync(const char *path, int is_dir, sp_error *err)
{
    int fd = open(path, (is_dir ? O_DIRECTORY : 0) | O_RDONLY);
    if (fd < 0) return sp_error_set(err, "%s: cannot open for fsync: %s", path, strerror(errno));
    int rc = fsync(fd), e = errno;
    close(fd);
    if (rc < 0 && !(is_dir && (e == EINVAL || e == EBADF)))
        return sp_error_set(err, "%s: fsync failed: %s", path, strerror(e));
    return 0;
}

int sp_heal_ckpt_write(const char *path, const sp_heal_ckpt *c, sp_error *err)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return sp_error_set(err, "%s: path too long", path);
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    /* Built in memory and sealed with a whole-file checksum (common/h5seal.h), like the
     * search's checkpoints: a damaged file is refused before HDF5 parses it. */
    hid_t f = sp_h5seal_create(tmp, 3 * c->n_params * sizeof(float) + 4096, err);
    if (f < 0) return sp_error_wrap(err, "writing checkpoint %s", path);
    int rc = hc_write_arrays(f, c, err) || hc_write_attrs(f, c, err);
    if (rc) H5Fclose(f);
    else rc = sp_h5seal_save(f, tmp, err) < 0;
    if (rc == 0) rc = hc_fsync(tmp, 0, err) < 0;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = sp_error_set(err, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
    if (rc) {
        unlink(tmp);
        return sp_error_wrap(err, "writing checkpoint %s", path);
    }
    return hc_fsync(dir, 1, err);
}

static int hc_read_arrays(hid_t f, const char *path, sp_heal_ckpt *c, sp_error *err)
{
    for (int k = 0; k < 3; k++) {
        uint64_t dims[2];
        int rank = 0;
        void *data = NULL;
        char *want = NULL, hex[17];
        if (sp_h5_read_array(f, hc_sets[k], SP_H5_F64, 1, &rank, dims, &data, err) < 0)
            return sp_error_wrap(err, "%s", path);
        const double *d = data;
        sp_ckpt_hex64(hc_sum(k, d, (size_t)dims[0]), hex);
        int rc = sp_h5_attr_read_str(f, hc_sets[k], "checksum", &want, err) < 0;
        if (rc == 0 && strcmp(want, hex))
            rc = sp_error_set(err, "%s: dataset /%s: checksum %s, stored %s (the file is damaged)",
                              path, hc_sets[k], hex, want);
        if (rc == 0 && dims[0] != c->n_params)
            rc = sp_error_set(err, "%s: dataset /%s holds %" PRIu64 " values, the adapter has %zu",
                              path, hc_sets[k], dims[0], c->n_params);
        float *a = hc_array(c, k);
        for (size_t i = 0; rc == 0 && i < c->n_params; i++) a[i] = (float)d[i];
        free(want);
        free(data);
        if (rc) return -1;
    }
    return 0;
}

static int hc_read_hex(hid_t f, const char *path, const char *name, uint64_t *out, sp_error *err)
{
    char *s = NULL;
    if (sp_h5_attr_read_str(f, ".", name, &s, err) < 0) return sp_error_wrap(err, "%s", path);
    char *end = NULL;
    *out = strtoull(s, &end, 16);
    int bad = strlen(s) != 16 || *end;
    free(s);
    return bad ? sp_error_set(err, "%s: attribute %s: expected 16 hex digits", path, name) : 0;
}

static int hc_read_attrs(hid_t f, const char *path, sp_heal_ckpt *c, sp_error *err)
{
    int64_t schema = 0;
    char *seed = NULL, *fp = NULL, *nll = NULL;
    int rc = sp_h5_attr_read_i64(f, ".", "schema_version", &schema, err) < 0 ||
             sp_h5_attr_read_i64(f, ".", "step", &c->step, err) < 0 ||
             sp_h5_attr_read_i64(f, ".", "total_steps", &c->total_steps, err) < 0 ||
             sp_h5_attr_read_i64(f, ".", "data_position", &c->data_pos, err) < 0 ||
             sp_h5_attr_read_str(f, ".", "seed", &seed, err) < 0 ||
             sp_h5_attr_read_str(f, ".", "model_fingerprint", &fp, err) < 0 ||
             sp_h5_attr_read_str(f, ".", "last_eval_nll", &nll, err) < 0;
    if (rc) rc = sp_error_wrap(err, "%s", path);
    if (rc == 0 && schema != SP_HEAL_CKPT_SCHEMA)
        rc = sp_error_set(err, "%s: schema_version %lld, this program reads %d", path,
                          (long long)schema, SP_HEAL_CKPT_SCHEMA);
    if (rc == 0) {
        c->seed = strtoull(seed, NULL, 10);
        snprintf(c->model_fingerprint, sizeof c->model_fingerprint, "%s", fp);
        c->last_eval_nll = strtod(nll, NULL);
        rc = hc_read_hex(f, path, "options_hash", &c->options_hash, err) ||
             hc_read_hex(f, path, "data_hash", &c->data_hash, err);
    }
    if (rc == 0 && (c->step < 0 || c->data_pos < 0 || c->step > c->total_steps))
        rc = sp_error_set(err, "%s: step %lld of %lld, position %lld: out of range", path,
                          (long long)c->step, (long long)c->total_steps, (long long)c->data_pos);
    free(seed), free(fp), free(nll);
    return rc ? -1 : 0;
}

int sp_heal_ckpt_read(const char *path, sp_heal_ckpt *c, sp_error *err)
{
    hid_t f = sp_h5seal_open(path, err);
    if (f < 0) return -1;
    int own = c->params == NULL;
    if (own) {
        size_t n = c->n_params ? c->n_params : 1;
        c->params = sp_xmalloc(n * sizeof(float));
        c->m = sp_xmalloc(n * sizeof(float));
        c->v = sp_xmalloc(n * sizeof(float));
    }
    int rc = hc_read_attrs(f, path, c, err) || hc_read_arrays(f, path, c, err);
    H5Fclose(f);
    if (rc && own) {
        free(c->params), free(c->m), free(c->v);
        c->params = c->m = c->v = NULL;
    }
    return rc ? -1 : 0;
}
